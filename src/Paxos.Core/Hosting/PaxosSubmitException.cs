namespace Paxos;

/// <summary>Why <see cref="PaxosNode.SubmitAsync"/> failed.</summary>
public enum SubmitFailure
{
    /// <summary>The node has too many updates in flight, or too many submissions of this same update waiting for it
    /// (16); retry later, or at another replica.</summary>
    Overloaded = 1,

    /// <summary>The payload exceeds <see cref="PaxosOptions.MaxUpdateBytes"/>.</summary>
    UpdateTooLarge = 2,

    /// <summary>A newer update of the same client already executed or is pending; this one never will be answered.</summary>
    Stale = 3,

    /// <summary>The client submitted a newer update before this one executed, so it will not be answered.</summary>
    Superseded = 4,

    /// <summary>The node is stopping or stopped. The update may still execute: re-submit the same
    /// (client id, timestamp) elsewhere to learn its result — it never executes twice.</summary>
    Stopped = 5,

    /// <summary>The node stopped after a broken invariant or a failing executor (fail-stop).</summary>
    Faulted = 6,

    /// <summary>The cluster no longer remembers the client (it sent nothing for <see cref="PaxosOptions.ClientExpirySlots"/>
    /// slots), so it cannot tell whether this timestamp executed before; the update was refused and did not execute
    /// now. If it was a retry, it may have executed earlier. Start a new session: submit the next update with a
    /// timestamp of at least <see cref="ReplicaStatus.SessionStartTimestamp"/>.
    /// For a session (<see cref="ClientSession"/>), the session is not in the client table: it expired after
    /// <see cref="PaxosOptions.ClientExpirySlots"/> slots without an update, or was never registered; open a new one
    /// (<see cref="PaxosNode.OpenSessionAsync"/>).</summary>
    SessionExpired = 7,

    /// <summary>No answer came within <see cref="PaxosOptions.SubmitTimeout"/>; the message says what the node knew of
    /// the cluster (no leader, a leader election under way, an unanswered leader). The update may still execute:
    /// re-submit the same (client id, timestamp), here or elsewhere, to learn its result — it never executes twice.</summary>
    TimedOut = 8,

    /// <summary>The update is a session's and skips a timestamp: the session's last executed update is not the one
    /// before it. It was refused at its slot and did not execute; the session's next update is still the one after its
    /// last executed one.</summary>
    OutOfOrder = 9,

    /// <summary>The executor rejected the update (<see cref="UpdateRejectedException"/>): it counts as executed (a
    /// retry gets the same answer) and <see cref="PaxosSubmitException.Error"/> holds the executor's error bytes.</summary>
    Rejected = 10,
}

/// <summary>
/// An update could not be submitted or answered. <see cref="LeaderHint"/> names the replica this node
/// believes leads, which is where re-submitting is cheapest.
/// </summary>
public sealed class PaxosSubmitException : Exception
{
    /// <summary>Creates the exception.</summary>
    public PaxosSubmitException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public PaxosSubmitException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public PaxosSubmitException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="reason">Why the submission failed.</param>
    /// <param name="leaderHint">The replica the node believes leads, if any.</param>
    /// <param name="message">What happened, for people.</param>
    /// <param name="innerException">The cause, if any.</param>
    public PaxosSubmitException(SubmitFailure reason, ReplicaId? leaderHint, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Reason = reason;
        LeaderHint = leaderHint;
    }

    /// <summary>Why the submission failed.</summary>
    public SubmitFailure Reason { get; }

    /// <summary>The replica this node believes leads, if it knows one.</summary>
    public ReplicaId? LeaderHint { get; }

    /// <summary>The executor's error bytes when <see cref="Reason"/> is <see cref="SubmitFailure.Rejected"/>; empty
    /// otherwise.</summary>
    public ReadOnlyMemory<byte> Error { get; init; }
}
