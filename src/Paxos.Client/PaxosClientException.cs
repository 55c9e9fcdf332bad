namespace Paxos.Client;

/// <summary>Why a <see cref="PaxosClient"/> operation failed.</summary>
public enum PaxosClientFailure
{
    /// <summary>No replica answered within <see cref="PaxosClientOptions.OperationTimeout"/> (none reachable, no
    /// quorum, or every one refused for a passing reason such as overload). For a submission, see
    /// <see cref="PaxosClientException.UpdateMayHaveExecuted"/>.</summary>
    Timeout = 1,

    /// <summary>The cluster forgot the client's session while an update was in doubt: an earlier attempt may have
    /// executed it, and the cluster can no longer tell. The client opens a new session for its next update. (When no
    /// update is in doubt, the client opens a new session itself and this is never raised.)</summary>
    SessionExpired = 2,

    /// <summary>The payload, query or result does not fit a frame, or the replica refused the payload as larger than
    /// the cluster accepts. It did not execute.</summary>
    TooLarge = 3,

    /// <summary>The cluster refused the request for good (an out-of-order or stale sequence, a field out of range).
    /// Retrying the same request will not help.</summary>
    Rejected = 4,

    /// <summary>The application's executor rejected the update deterministically; <see cref="PaxosClientException.Error"/>
    /// holds its error bytes. The update counts as executed — every replica rejected it the same way, and a retry
    /// would get the same answer — so the session moves on to its next sequence.</summary>
    UpdateRejected = 5,
}

/// <summary>
/// A <see cref="PaxosClient"/> operation failed; <see cref="Reason"/> says why and
/// <see cref="UpdateMayHaveExecuted"/> whether a submitted update might still have executed (it never executes twice).
/// Cancellation through the caller's token is an <see cref="OperationCanceledException"/>, not this.
/// </summary>
public sealed class PaxosClientException : Exception
{
    /// <summary>Creates the exception.</summary>
    public PaxosClientException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public PaxosClientException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public PaxosClientException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="reason">Why the operation failed.</param>
    /// <param name="updateMayHaveExecuted">Whether a submitted update might have executed.</param>
    /// <param name="message">What happened, for people.</param>
    /// <param name="innerException">The last failure seen, if any.</param>
    public PaxosClientException(PaxosClientFailure reason, bool updateMayHaveExecuted, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Reason = reason;
        UpdateMayHaveExecuted = updateMayHaveExecuted;
    }

    /// <summary>Why the operation failed.</summary>
    public PaxosClientFailure Reason { get; }

    /// <summary>With <see cref="PaxosClientFailure.UpdateRejected"/>: the executor's error bytes; empty otherwise.</summary>
    public ReadOnlyMemory<byte> Error { get; init; }

    /// <summary>For a submission: whether the update may have executed even so (a request reached a replica and no
    /// definite answer came back). It executes at most once; the client does not re-submit it under a new
    /// session. False for reads.</summary>
    public bool UpdateMayHaveExecuted { get; }
}
