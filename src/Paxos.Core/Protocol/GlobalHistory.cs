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
internal sealed class GlobalHistory
{
    private const int ChunkBits = 12;
    private const int ChunkSize = 1 << ChunkBits;
    private const long ChunkMask = ChunkSize - 1;

    private static readonly Slot EmptySlot;
    private readonly List<Slot[]?> _chunks = [];

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
        var wholeChunks = (int)Math.Min(_chunks.Count, (sequence + 1) >> ChunkBits);
        for (var i = 0; i < wholeChunks; i++)
        {
            _chunks[i] = null;
        }
    }

    /// <summary>The slot for writing, created if needed. <paramref name="sequence"/> is at least 1. A released slot
    /// (at or below <see cref="Floor"/>) is returned as a scratch slot that says it is ordered.</summary>
    public ref Slot At(long sequence)
    {
        if (sequence <= Floor)
        {
            _released = new Slot { IsOrdered = true };
            return ref _released;
        }

        var chunkIndex = (int)(sequence >> ChunkBits);
        while (_chunks.Count <= chunkIndex)
        {
            _chunks.Add(null);
        }

        var chunk = _chunks[chunkIndex] ??= new Slot[ChunkSize];
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

        var chunkIndex = sequence >> ChunkBits;
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
        var chunkIndex = sequence >> ChunkBits;
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
