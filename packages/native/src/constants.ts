/** Flag values from the C headers, as compiled into the addon. */
import { native, type NativeConstants } from './binding';

export type Constants = NativeConstants;
export const constants: Constants = native.constants;
