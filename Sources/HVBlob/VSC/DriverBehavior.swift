// SPDX-License-Identifier: Apache-2.0

/// What a revision of the driver does at each point where the posted v5 and a corrected driver
/// differ. Each field is one documented decision, so a test or the race explorer can switch
/// exactly one of them and watch the outcome change.
public struct DriverBehavior: Hashable, Sendable, CustomStringConvertible {
    public var name: String
    /// remove() sets `removing` (WRITE_ONCE, under the request lock) before the drain wait;
    /// the ioctl checks it (READ_ONCE), queues its request and sends it in one critical
    /// section under that lock. (The review suggested checking after queuing; with a bounded
    /// drain that still leaves a window between the check and the send in which remove can
    /// give up waiting and close the channel.)
    public var removingFlag: Bool
    /// Write intent of each pin. Correct: the host only reads the request buffer (no write
    /// intent) and writes the response and data buffers (write intent). v5 passed READ for the
    /// request and READ|WRITE (== WRITE) for the others: exactly backwards.
    public var requestWriteIntent: Bool
    public var responseWriteIntent: Bool
    public var dataWriteIntent: Bool
    /// The completion path checks packet type and payload length, and ignores id 0, before
    /// using anything the host sent. v5 trusted every packet.
    public var validatesCompletions: Bool
    /// The host's response_len is clamped to the caller's response_len before it reaches user
    /// space. v5 copied it through.
    public var boundsResponseLen: Bool
    /// remove() waits for in-flight requests at most this long (virtual ticks), then closes the
    /// channel (after which the host no longer touches the pages) and fails what is left with
    /// ENODEV. nil: wait forever, as v5's wait_event() does. The fixed driver waits 10,000
    /// ticks: AZ_BLOB_DRAIN_TIMEOUT (10 * HZ, HZ = 1000) in kernel/hv_azure_blob.c, which a
    /// replay of a model capture against the C driver showed the model had wrong.
    public var drainTimeoutTicks: UInt64?
    /// On Linux ≥ 5.14 the driver installs next_request_id_callback/request_addr_callback.
    /// v5 was written for 5.13, where the send path allocated ids by itself.
    public var installsRequestIdCallbacks: Bool
    /// The ioctl waits for its completion killably (wait_for_completion_killable): SIGKILL
    /// ends the wait, and the request context, shared with the channel, keeps its pages pinned
    /// until the host completes the request or remove closes the channel. v5 waited
    /// uninterruptibly: a killed process could not exit until the host answered.
    public var killableWait: Bool

    /// hvblob's corrected driver (the model of kernel/hv_azure_blob.c).
    public static let fixed = DriverBehavior(
        name: "fixed", removingFlag: true, requestWriteIntent: false, responseWriteIntent: true,
        dataWriteIntent: true, validatesCompletions: true, boundsResponseLen: true, drainTimeoutTicks: 10_000,
        installsRequestIdCallbacks: true, killableWait: true)

    /// The posted v5 patch, defects included.
    public static let v5 = DriverBehavior(
        name: "v5", removingFlag: false, requestWriteIntent: true, responseWriteIntent: false,
        dataWriteIntent: false, validatesCompletions: false, boundsResponseLen: false, drainTimeoutTicks: nil,
        installsRequestIdCallbacks: false, killableWait: false)

    public static func named(_ name: String) -> DriverBehavior? {
        switch name {
        case "fixed": return .fixed
        case "v5": return .v5
        default: return nil
        }
    }

    public var description: String { name }
}
