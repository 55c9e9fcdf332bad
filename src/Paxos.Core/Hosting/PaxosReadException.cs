namespace Paxos;

/// <summary>
/// A linearizable read (<see cref="PaxosNode.ReadAsync"/>) failed. <see cref="Reason"/> says why, and
/// <see cref="LeaderHint"/> names the replica this node believes leads, where a retry is cheapest.
/// </summary>
public sealed class PaxosReadException : Exception
{
    /// <summary>Creates the exception.</summary>
    public PaxosReadException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public PaxosReadException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public PaxosReadException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="reason">Why the read failed.</param>
    /// <param name="leaderHint">The replica the node believes leads, if any.</param>
    /// <param name="message">What happened, for people.</param>
    /// <param name="innerException">The cause, if any.</param>
    public PaxosReadException(ReadFailure reason, ReplicaId? leaderHint, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Reason = reason;
        LeaderHint = leaderHint;
    }

    /// <summary>Why the read failed.</summary>
    public ReadFailure Reason { get; }

    /// <summary>The replica this node believes leads, if it knows one.</summary>
    public ReplicaId? LeaderHint { get; }
}
