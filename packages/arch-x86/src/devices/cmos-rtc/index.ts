/** The CMOS/RTC (MC146818 and battery-backed RAM) at ports 0x70/0x71. */
export * from './registers';
export * from './clock-format';
export * from './memory-bytes';
export { CmosRegisters, type RtcClock } from './rtc-registers';
export { CmosRtc, hostRtcClock, type CmosPowerOn } from './device';
export { cmosRtcLayout } from './state';
export * from './plugin';
