'use strict';
/**
 * lib/restore-recorder.js's probe inside a vCPU thread: a kvmts plugin module (config.plugins)
 * that registers nothing and, loaded in a vCPU worker, records the ioctls that thread issues
 * while the main thread asks it to, over the BroadcastChannel 'kvmts-restore-recorder':
 *
 *   { cmd: 'start' }   wrap @kvmts/native's ioctl entry points here, record from now; answers { ev: 'started' }
 *   { cmd: 'take' }    answers { ev: 'records', records: [{ fd, request, bytes | value }] } and stops recording
 *   { cmd: 'unpatch' } put the real entry points back (the thread may serve another machine next)
 */
const { isMainThread, BroadcastChannel } = require('node:worker_threads');

function register() {}

if (!isMainThread) {
  const { CHANNEL, wrapNativeIoctls, recordedArg } = require('./lib/restore-recorder');
  const channel = new BroadcastChannel(CHANNEL);
  channel.unref();
  let records;
  let undo;
  channel.onmessage = ({ data }) => {
    if (data.cmd === 'start') {
      records = [];
      undo ??= wrapNativeIoctls((fd, request, arg) => records?.push({ fd, request, ...recordedArg(arg) }));
      channel.postMessage({ ev: 'started' });
    } else if (data.cmd === 'take') {
      channel.postMessage({ ev: 'records', records: records ?? [] });
      records = undefined;
    } else if (data.cmd === 'unpatch') {
      undo?.();
      undo = undefined;
      records = undefined;
      channel.close();
    }
  };
}

module.exports = { register };
