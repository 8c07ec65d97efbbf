/**
 * Flag values from the C headers, as compiled into the addon. Each property is a getter, so
 * importing the package does not load the addon: the first read does (and throws
 * NativeLoadError if it cannot). Not a hot path: callers read a flag per open/mmap.
 */
import { CONSTANT_NAMES, native, type NativeConstants } from './binding';

export type Constants = NativeConstants;

const properties: PropertyDescriptorMap = {};
for (const name of CONSTANT_NAMES) properties[name] = { enumerable: true, get: () => native.constants[name] };

export const constants: Constants = Object.freeze(Object.defineProperties({}, properties) as Constants);
