/** Guest programs: assembling them with binutils, and their committed prebuilt copies. */
export { assembleGuest, guestSourcePath, listGuests, parseNmOutput, type AssembleOptions } from './assemble';
export { DEFAULT_GUEST_LOAD_ADDRESS, GUESTS_DIR, GuestBuildError, PREBUILT_DIR, type GuestImage, type PrebuiltManifest } from './guest-image';
export { loadPrebuiltGuest, writeAllPrebuiltGuests, writePrebuiltGuest } from './prebuilt';
export { assembleGuestElf, type AssembleElfOptions, type GuestElf } from './assemble-elf';
