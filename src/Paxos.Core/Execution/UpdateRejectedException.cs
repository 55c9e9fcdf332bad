namespace Paxos;

/// <summary>
/// Thrown by <see cref="IExecutor.Execute"/> to reject an update deterministically: the update counts as executed —
/// its slot and its client's timestamp are consumed, and the client table records the rejection, so a retry is
/// answered with the same error and never executes — and its client gets the error bytes
/// (<see cref="Protocol.ReplyStatus.Rejected"/>; <see cref="PaxosNode.SubmitAsync"/> fails with
/// <see cref="SubmitFailure.Rejected"/> and <see cref="PaxosSubmitException.Error"/>).
/// </summary>
/// <remarks>
/// Every replica executes the same update against the same state, so every replica must reject it alike: throw it
/// only for a decision that the update and the state alone determine (an invalid command, a failed precondition),
/// and leave the executor's state as it was before the update (or change it the same way on every replica). Any
/// other exception stops the replica (fail-stop), since its state can no longer be trusted to match its peers'.
/// </remarks>
public sealed class UpdateRejectedException : Exception
{
    /// <summary>Creates a rejection with no error bytes.</summary>
    public UpdateRejectedException()
        : this(ReadOnlyMemory<byte>.Empty)
    {
    }

    /// <summary>Creates a rejection with no error bytes.</summary>
    public UpdateRejectedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates a rejection with no error bytes.</summary>
    public UpdateRejectedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates a rejection.</summary>
    /// <param name="error">What the client receives: the application's own error bytes, at most
    /// <see cref="Storage.SnapshotFormat.MaxResultBytes"/> long. Not copied: do not change them afterwards.</param>
    public UpdateRejectedException(ReadOnlyMemory<byte> error)
        : this(error, "The executor rejected the update.")
    {
    }

    /// <summary>Creates a rejection.</summary>
    /// <param name="error">What the client receives (see <see cref="UpdateRejectedException(ReadOnlyMemory{byte})"/>).</param>
    /// <param name="message">What happened, for people (logs); not sent to the client.</param>
    public UpdateRejectedException(ReadOnlyMemory<byte> error, string message)
        : base(message)
    {
        Error = error;
    }

    /// <summary>The error bytes the client receives.</summary>
    public ReadOnlyMemory<byte> Error { get; }
}
