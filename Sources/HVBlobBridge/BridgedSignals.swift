// SPDX-License-Identifier: Apache-2.0
import CKernelShim
import HVBlob

/// Signals for a bridged driver's threads: the shim keeps a signal pending on the thread's task
/// until its call returns; a sleep of a kind that admits it ends (wait_event_killable,
/// wait_for_completion_killable and the interruptible forms return -ERESTARTSYS), every
/// other sleep goes on.
extension BridgedDriver: DriverSignals {
    public func deliverSignal(to call: DriverCall, fatal: Bool) -> Bool {
        guard let c = call as? CoroutineCall, let coro = c.coro else { return false }
        return hvb_coro_signal(coro, fatal ? 1 : 0) != 0
    }

    public func sleepKind(of call: DriverCall) -> String? {
        guard let c = call as? CoroutineCall, let coro = c.coro,
              hvb_coro_state(coro) == Int32(HVB_BLOCKED.rawValue) else { return nil }
        let flags = hvb_coro_wait_flags(coro)
        if flags & Int32(HVB_WAIT_SPIN) != 0 { return "spinning" }
        if flags & Int32(HVB_WAIT_INTERRUPTIBLE) != 0 { return "interruptible" }
        if flags & Int32(HVB_WAIT_KILLABLE) != 0 { return "killable" }
        return "uninterruptible"
    }
}
