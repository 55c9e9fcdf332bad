namespace Paxos.Protocol;

/// <summary>One slot of <c>Global_History</c> (TR Fig. 2, block D).</summary>
internal struct Slot
{
    /// <summary>The view of the stored Proposal; 0 when the slot holds none.</summary>
    public long ProposalView;

    /// <summary>The stored Proposal's update, or the ordered update once <see cref="IsOrdered"/>.</summary>
    public ClientUpdate? Update;

    /// <summary>Replicas known to have accepted (<see cref="ProposalView"/>, this slot), one bit each. This
    /// replica's own bit is set only once its acceptance is durable.</summary>
    public ulong Accepts;

    /// <summary>Whether the slot holds a <c>Globally_Ordered_Update</c>; an ordered binding is final.</summary>
    public bool IsOrdered;

    /// <summary>The view whose Accepts ordered the slot here, or 0 when the slot was learned already ordered
    /// (catch-up, data list). Only orderings in the installed view count as progress (G23).</summary>
    public long OrderedInView;

    public readonly bool IsEmpty => ProposalView == 0 && !IsOrdered;
}

/// <summary>
/// <c>Global_History</c>: slots by sequence number, stored in fixed-size chunks so that growing never copies
/// the whole history and a prefix can later be released (garbage collection).
/// </summary>
/// <remarks>A chunk is 4,096 slots of 40 bytes, so it lives on the large object heap; at 200,000 updates a second a
/// replica would allocate ~8 MiB of them a second, and every few MiB of large objects costs a full collection. Released
/// chunks are therefore cleared and kept for reuse (at most <see cref="MaxSpareChunks"/>), and once released they leave
/// the chunk list too, so neither the list nor the heap grows with uptime.</remarks>
internal sealed class GlobalHistory
{
    private const int ChunkBits = 12;
    private const int ChunkSize = 1 << ChunkBits;
    private const long ChunkMask = ChunkSize - 1;

    /// <summary>How many released chunks are kept for reuse: enough for the history a replica releases at one snapshot
    /// with the default interval (100,000 slots, 25 chunks), ~5 MiB.</summary>
    internal const int MaxSpareChunks = 32;

    private static readonly Slot EmptySlot;

    /// <summary>The chunks from <see cref="_firstChunk"/> on; null where no slot was ever written.</summary>
    private readonly List<Slot[]?> _chunks = [];

    /// <summary>Released chunks, cleared, waiting to be reused.</summary>
    private readonly Stack<Slot[]> _spareChunks = new();

    /// <summary>The chunk number of <c>_chunks[0]</c>: every chunk below it lies wholly at or below <see cref="Floor"/>.</summary>
    private long _firstChunk;

    /// <summary>What a released slot looks like to a writer: ordered, so every rule leaves it alone. Rewritten at each
    /// use, so a writer that ignores <see cref="Slot.IsOrdered"/> changes nothing that lasts.</summary>
    private Slot _released;

    /// <summary>The highest slot that ever held a Proposal or an ordered update.</summary>
    public long Highest { get; private set; }

    /// <summary>Slots up to this one are released: executed, covered by a snapshot, and no longer held. 0 when none.</summary>
    public long Floor { get; private set; }

    /// <summary>Releases every slot up to <paramref name="sequence"/> (whole chunks are freed; the rest of a chunk is
    /// kept until the floor passes it). The caller guarantees those slots are executed and covered by a snapshot.</summary>
    public void ReleaseThrough(long sequence)
    {
        if (sequence <= Floor)
        {
            return;
        }

        Floor = sequence;
        var firstKept = (sequence + 1) >> ChunkBits; // Chunks below this one lie wholly at or below the floor.
        if (firstKept <= _firstChunk)
        {
            return;
        }

        var wholeChunks = (int)Math.Min(_chunks.Count, firstKept - _firstChunk);
        for (var i = 0; i < wholeChunks; i++)
        {
            if (_chunks[i] is { } chunk && _spareChunks.Count < MaxSpareChunks)
            {
                Array.Clear(chunk);
                _spareChunks.Push(chunk);
            }
        }

        _chunks.RemoveRange(0, wholeChunks);
        _firstChunk = firstKept;
    }

    /// <summary>How many chunks the history holds (for tests: it must not grow with uptime once slots are released).</summary>
    internal int ChunkCount => _chunks.Count;

    /// <summary>How many released chunks wait for reuse.</summary>
    internal int SpareChunkCount => _spareChunks.Count;

    /// <summary>The slot for writing, created if needed. <paramref name="sequence"/> is at least 1. A released slot
    /// (at or below <see cref="Floor"/>) is returned as a scratch slot that says it is ordered.</summary>
    public ref Slot At(long sequence)
    {
        if (sequence <= Floor)
        {
            _released = new Slot { IsOrdered = true };
            return ref _released;
        }

        var chunkIndex = (int)((sequence >> ChunkBits) - _firstChunk);
        while (_chunks.Count <= chunkIndex)
        {
            _chunks.Add(null);
        }

        var chunk = _chunks[chunkIndex] ??= _spareChunks.TryPop(out var spare) ? spare : new Slot[ChunkSize];
        if (sequence > Highest)
        {
            Highest = sequence;
        }

        return ref chunk[sequence & ChunkMask];
    }

    /// <summary>The slot for reading; an empty slot when nothing was ever stored there, an ordered one with no update
    /// when it was released.</summary>
    public ref readonly Slot Peek(long sequence)
    {
        if (sequence <= Floor && sequence > 0)
        {
            _released = new Slot { IsOrdered = true };
            return ref _released;
        }

        var chunkIndex = (sequence >> ChunkBits) - _firstChunk;
        if (sequence <= 0 || chunkIndex >= _chunks.Count)
        {
            return ref EmptySlot;
        }

        var chunk = _chunks[(int)chunkIndex];
        if (chunk is null)
        {
            return ref EmptySlot;
        }

        return ref chunk[sequence & ChunkMask];
    }

    /// <summary>The slot for updating in place if it exists; a null reference otherwise.</summary>
    public ref Slot Existing(long sequence)
    {
        var chunkIndex = (sequence >> ChunkBits) - _firstChunk;
        if (sequence <= Floor || chunkIndex >= _chunks.Count)
        {
            return ref System.Runtime.CompilerServices.Unsafe.NullRef<Slot>();
        }

        var chunk = _chunks[(int)chunkIndex];
        if (chunk is null)
        {
            return ref System.Runtime.CompilerServices.Unsafe.NullRef<Slot>();
        }

        return ref chunk[sequence & ChunkMask];
    }
}
