namespace Paxos.Simulation;

/// <summary>
/// An executor for simulations: it folds every update into a running state hash, and replies with the
/// update's sequence number and that hash, so two replicas that executed the same updates in the same
/// order hold the same <see cref="StateHash"/>.
/// </summary>
public sealed class RecordingExecutor : IExecutor
{
    private const ulong FnvPrime = 0x100000001B3UL;

    /// <summary>The hash of everything executed so far.</summary>
    public ulong StateHash { get; private set; } = 0xCBF29CE484222325UL;

    /// <summary>How many updates executed.</summary>
    public long Executed { get; private set; }

    /// <summary>The last sequence number executed.</summary>
    public SequenceNumber LastSequence { get; private set; }

    /// <summary>Called after each execution, for checkers.</summary>
    public Action<OrderedUpdate>? OnExecuted { get; set; }

    /// <inheritdoc />
    public ReadOnlyMemory<byte> Execute(in OrderedUpdate update)
    {
        var hash = StateHash;
        hash = (hash ^ (ulong)update.ClientId.Value) * FnvPrime;
        hash = (hash ^ (ulong)update.Timestamp) * FnvPrime;
        foreach (var b in update.Payload.Span)
        {
            hash = (hash ^ b) * FnvPrime;
        }

        StateHash = hash;
        Executed++;
        LastSequence = update.Sequence;
        OnExecuted?.Invoke(update);
        var reply = new byte[16];
        BitConverter.TryWriteBytes(reply.AsSpan(0, 8), update.Sequence.Value);
        BitConverter.TryWriteBytes(reply.AsSpan(8, 8), hash);
        return reply;
    }
}
