namespace Paxos;

/// <summary>
/// A replica found one of its own invariants broken: a bug, not an operating error. The replica stops
/// (fail-stop) rather than risk disagreeing with its peers; every later call on it throws
/// <see cref="ReplicaFaultedException"/>.
/// </summary>
public sealed class PaxosInvariantException : Exception
{
    /// <summary>Creates the exception.</summary>
    public PaxosInvariantException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public PaxosInvariantException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public PaxosInvariantException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>The replica stopped earlier (fail-stop) and takes no more input.</summary>
public sealed class ReplicaFaultedException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public ReplicaFaultedException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public ReplicaFaultedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public ReplicaFaultedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
