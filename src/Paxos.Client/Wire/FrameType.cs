namespace Paxos.Client.Wire;

/// <summary>
/// What a frame carries. Requests (client to replica) are below 0x80, answers (replica to client) from 0x80 on; a
/// side that receives a type it does not send the other way, or one not listed here, closes the connection.
/// </summary>
internal enum FrameType : byte
{
    /// <summary>The first frame of a connection: magic (u32), version (u8), the client's nonce (16 bytes).</summary>
    Hello = 0x01,

    /// <summary>Registration nonce (i64). Answered by <see cref="SessionOpened"/> or <see cref="Error"/>.</summary>
    OpenSession = 0x02,

    /// <summary>Session id (i64), sequence (i64), payload (the rest). Answered by <see cref="Executed"/> or <see cref="Error"/>.</summary>
    Submit = 0x03,

    /// <summary>Query (the rest). Answered by <see cref="ReadResult"/> or <see cref="Error"/>.</summary>
    Read = 0x04,

    /// <summary>Empty. Answered by <see cref="StatusReply"/>.</summary>
    Status = 0x05,

    /// <summary>The answer to <see cref="Hello"/>: version (u8), the replica's nonce (16 bytes), replica id (i32),
    /// leader hint (i32, −1 for none).</summary>
    Welcome = 0x81,

    /// <summary>Session id (i64).</summary>
    SessionOpened = 0x82,

    /// <summary>The executor's reply (the rest).</summary>
    Executed = 0x83,

    /// <summary>The read's result (the rest).</summary>
    ReadResult = 0x84,

    /// <summary>Replica id (i32), leader hint (i32, −1 for none), protocol state (u8).</summary>
    StatusReply = 0x85,

    /// <summary>The answer to a Submit whose update the executor rejected deterministically: the executor's error bytes
    /// (the rest). The update counts as executed (its sequence is used up; a retry gets the same answer).</summary>
    Rejected = 0x86,

    /// <summary>Code (u8), leader hint (i32, −1 for none), message length (u16) and that many bytes of UTF-8.</summary>
    Error = 0x8F,
}

/// <summary>Why a replica refused or could not answer a request, as <see cref="FrameType.Error"/> carries it. 1 to 7
/// have the values of Paxos.Core's <c>SubmitFailure</c>.</summary>
internal enum WireErrorCode : byte
{
    /// <summary>The replica has too much in flight; try again, here or elsewhere.</summary>
    Overloaded = 1,

    /// <summary>The payload is larger than the cluster accepts.</summary>
    UpdateTooLarge = 2,

    /// <summary>A newer update of the session executed or is pending; this one will not be answered.</summary>
    Stale = 3,

    /// <summary>The session submitted a newer update before this one executed.</summary>
    Superseded = 4,

    /// <summary>The replica is stopping or stopped.</summary>
    Stopped = 5,

    /// <summary>The replica stopped after a failure.</summary>
    Faulted = 6,

    /// <summary>The cluster no longer remembers the session; the update did not execute now.</summary>
    SessionExpired = 7,

    /// <summary>The update skips a sequence of its session; it did not execute.</summary>
    OutOfOrder = 9,

    /// <summary>No answer within the replica's request timeout; an update may still execute.</summary>
    Timeout = 100,

    /// <summary>A field of a well-formed request is out of range (a session id or sequence that is not positive).</summary>
    BadRequest = 101,

    /// <summary>The replica cannot serve the request now (no quorum, not running, or another failure); try elsewhere.</summary>
    Unavailable = 102,

    /// <summary>The replica's application does not serve reads.</summary>
    ReadsNotSupported = 103,

    /// <summary>The application failed to answer the read (its read threw); retrying will not help.</summary>
    ReadFailed = 104,
}
