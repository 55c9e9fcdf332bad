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
    /// timestamp of at least <see cref="ReplicaStatus.SessionStartTimestamp"/>.</summary>
    SessionExpired = 7,
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
}
