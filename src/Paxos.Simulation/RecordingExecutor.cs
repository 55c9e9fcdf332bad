using System.Buffers.Binary;

namespace Paxos.Simulation;

/// <summary>
/// An executor for simulations: it folds every update into a running state hash, and replies with the
/// update's sequence number and that hash, so two replicas that executed the same updates in the same
/// order hold the same <see cref="StateHash"/>. It keeps what it executed — (sequence, client, timestamp, payload
/// digest) — and its snapshots carry that list, so that a checker can verify a restored state against the agreed
/// history (<see cref="OnRestored"/>).
/// </summary>
public sealed class RecordingExecutor : ISnapshotExecutor, IReadExecutor
{
    private const ulong FnvPrime = 0x100000001B3UL;
    private const ulong FnvOffset = 0xCBF29CE484222325UL;
    private const int HeaderBytes = 24;
    private const int EntryBytes = 32;

    /// <summary>What executed, in order; replaced (never changed in place) by a restore, so a capture can keep a
    /// reference and a count.</summary>
    private List<ExecutedUpdate> _executed = [];

    /// <summary>The hash of everything executed so far.</summary>
    public ulong StateHash { get; private set; } = FnvOffset;

    /// <summary>How many updates executed.</summary>
    public long Executed { get; private set; }

    /// <summary>The last sequence number executed.</summary>
    public SequenceNumber LastSequence { get; private set; }

    /// <summary>Every update executed (restored ones included), in order.</summary>
    public IReadOnlyList<ExecutedUpdate> History => _executed;

    /// <summary>Whether the executor rejects every update whose payload starts with <see cref="RejectMarker"/>
    /// (<see cref="UpdateRejectedException"/>, with the reply it would have given as the error): a deterministic
    /// decision, taken alike on every replica, after the update is folded into the state and recorded as executed —
    /// a rejection counts as an execution. Off by default.</summary>
    public bool RejectsMarkedUpdates { get; init; }

    /// <summary>The first payload byte that <see cref="RejectsMarkedUpdates"/> rejects.</summary>
    public const byte RejectMarker = 0xEE;

    /// <summary>Called after each execution, for checkers.</summary>
    public Action<OrderedUpdate>? OnExecuted { get; set; }

    /// <summary>Called after a snapshot replaced the state, with the history it holds, for checkers.</summary>
    public Action<IReadOnlyList<ExecutedUpdate>>? OnRestored { get; set; }

    /// <summary>The digest of a payload that <see cref="ExecutedUpdate"/> records (64-bit FNV-1a).</summary>
    public static ulong Digest(ReadOnlySpan<byte> payload)
    {
        var hash = FnvOffset;
        foreach (var b in payload)
        {
            hash = (hash ^ b) * FnvPrime;
        }

        return hash;
    }

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
        _executed.Add(new ExecutedUpdate(update.Sequence.Value, update.ClientId.Value, update.Timestamp, Digest(update.Payload.Span)));
        OnExecuted?.Invoke(update);
        var reply = new byte[16];
        BitConverter.TryWriteBytes(reply.AsSpan(0, 8), update.Sequence.Value);
        BitConverter.TryWriteBytes(reply.AsSpan(8, 8), hash);
        if (RejectsMarkedUpdates && update.Payload.Length > 0 && update.Payload.Span[0] == RejectMarker)
        {
            throw new UpdateRejectedException(reply, "the payload starts with the reject marker");
        }

        return reply;
    }

    /// <summary>A read, whatever the query: the sequence number of the last update executed (8 bytes, little-endian),
    /// which says which prefix of the history the state reflects.</summary>
    public ReadOnlyMemory<byte> Read(ReadOnlySpan<byte> query)
    {
        var answer = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(answer, LastSequence.Value);
        return answer;
    }

    /// <inheritdoc />
    public IExecutorSnapshot CaptureSnapshot() => new Capture(StateHash, LastSequence.Value, _executed, _executed.Count);

    /// <inheritdoc />
    public void RestoreSnapshot(Stream snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        Span<byte> header = stackalloc byte[HeaderBytes];
        snapshot.ReadExactly(header);
        var hash = BinaryPrimitives.ReadUInt64LittleEndian(header);
        var last = BinaryPrimitives.ReadInt64LittleEndian(header[8..]);
        var count = BinaryPrimitives.ReadInt64LittleEndian(header[16..]);
        if (count < 0 || count > int.MaxValue / EntryBytes)
        {
            throw new InvalidDataException($"A recording executor's snapshot counts {count} updates.");
        }

        var executed = new List<ExecutedUpdate>((int)count);
        Span<byte> entry = stackalloc byte[EntryBytes];
        for (var i = 0; i < count; i++)
        {
            snapshot.ReadExactly(entry);
            executed.Add(new ExecutedUpdate(
                BinaryPrimitives.ReadInt64LittleEndian(entry),
                BinaryPrimitives.ReadInt64LittleEndian(entry[8..]),
                BinaryPrimitives.ReadInt64LittleEndian(entry[16..]),
                BinaryPrimitives.ReadUInt64LittleEndian(entry[24..])));
        }

        if (snapshot.ReadByte() != -1)
        {
            throw new InvalidDataException("A recording executor's snapshot goes on after its last update.");
        }

        _executed = executed;
        StateHash = hash;
        Executed = count;
        LastSequence = new SequenceNumber(last);
        OnRestored?.Invoke([.. executed]); // A copy: the list goes on growing.
    }

    /// <summary>The state at one point: the hash, and the first <paramref name="count"/> entries of a list that is only
    /// ever appended to.</summary>
    private sealed class Capture(ulong hash, long last, List<ExecutedUpdate> executed, int count) : IExecutorSnapshot
    {
        public void WriteTo(Stream destination)
        {
            ArgumentNullException.ThrowIfNull(destination);
            Span<byte> header = stackalloc byte[HeaderBytes];
            BinaryPrimitives.WriteUInt64LittleEndian(header, hash);
            BinaryPrimitives.WriteInt64LittleEndian(header[8..], last);
            BinaryPrimitives.WriteInt64LittleEndian(header[16..], count);
            destination.Write(header);
            var entries = new byte[count * EntryBytes];
            for (var i = 0; i < count; i++)
            {
                var entry = entries.AsSpan(i * EntryBytes, EntryBytes);
                var update = executed[i];
                BinaryPrimitives.WriteInt64LittleEndian(entry, update.Sequence);
                BinaryPrimitives.WriteInt64LittleEndian(entry[8..], update.Client);
                BinaryPrimitives.WriteInt64LittleEndian(entry[16..], update.Timestamp);
                BinaryPrimitives.WriteUInt64LittleEndian(entry[24..], update.PayloadDigest);
            }

            destination.Write(entries);
        }

        public void Dispose()
        {
        }
    }
}

/// <summary>An update a <see cref="RecordingExecutor"/> executed.</summary>
/// <param name="Sequence">Where it executed.</param>
/// <param name="Client">Its client.</param>
/// <param name="Timestamp">Its timestamp.</param>
/// <param name="PayloadDigest">Its payload's digest (<see cref="RecordingExecutor.Digest"/>).</param>
public readonly record struct ExecutedUpdate(long Sequence, long Client, long Timestamp, ulong PayloadDigest);
