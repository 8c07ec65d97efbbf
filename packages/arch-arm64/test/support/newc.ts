/** The initramfs writer moved to core (`npm run bench -- boot` uses it too). */
export { newcArchive, type NewcEntry } from '@kvmts/core';
