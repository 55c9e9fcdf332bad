namespace Paxos.Sample;

/// <summary>One executed update as the history keeps it: where it executed and whose it was.</summary>
internal readonly record struct ExecutedEntry(long Sequence, long ClientId, long Timestamp);

/// <summary>
/// Every update a replica executed, in order: (sequence, client id, timestamp), 24 bytes each. It lives in memory
/// only — after a restart the node replays its log through the executor, which fills it again; that is exactly
/// what the crash test checks. Kept in fixed-size chunks so that it grows without ever copying what it holds (a
/// doubling array would briefly need three times the memory, and show up in the peak-memory figures).
/// </summary>
/// <remarks>Appended to by the node's loop, read by client connections: every member takes the lock.</remarks>
internal sealed class ExecutionHistory
{
    private const int ChunkShift = 12;
    private const int ChunkSize = 1 << ChunkShift;

    private readonly List<ExecutedEntry[]> _chunks = [];
    private readonly Lock _lock = new();
    private long _count;

    public long Count
    {
        get
        {
            lock (_lock)
            {
                return _count;
            }
        }
    }

    /// <summary>Every entry, in order (for a snapshot).</summary>
    public ExecutedEntry[] ToArray()
    {
        lock (_lock)
        {
            var entries = new ExecutedEntry[_count];
            for (var i = 0L; i < _count; i++)
            {
                entries[i] = At(i);
            }

            return entries;
        }
    }

    /// <summary>Replaces every entry (a snapshot was restored).</summary>
    public void Reset(IEnumerable<ExecutedEntry> entries)
    {
        lock (_lock)
        {
            _chunks.Clear();
            _count = 0;
        }

        foreach (var entry in entries)
        {
            Add(entry);
        }
    }

    public void Add(ExecutedEntry entry)
    {
        lock (_lock)
        {
            var offset = (int)(_count & (ChunkSize - 1));
            if (offset == 0)
            {
                _chunks.Add(new ExecutedEntry[ChunkSize]);
            }

            _chunks[^1][offset] = entry;
            _count++;
        }
    }

    /// <summary>At most <paramref name="maxCount"/> entries whose sequence is at least <paramref name="fromSequence"/>,
    /// in order. Sequences only grow, so the first one is found by binary search.</summary>
    public ExecutedEntry[] Read(long fromSequence, int maxCount)
    {
        lock (_lock)
        {
            var first = FirstAtOrAfter(fromSequence);
            var count = (int)Math.Clamp(_count - first, 0, maxCount);
            var entries = new ExecutedEntry[count];
            for (var i = 0; i < count; i++)
            {
                entries[i] = At(first + i);
            }

            return entries;
        }
    }

    private long FirstAtOrAfter(long sequence)
    {
        var (low, high) = (0L, _count);
        while (low < high)
        {
            var middle = low + ((high - low) / 2);
            if (At(middle).Sequence < sequence)
            {
                low = middle + 1;
            }
            else
            {
                high = middle;
            }
        }

        return low;
    }

    private ExecutedEntry At(long index) => _chunks[(int)(index >> ChunkShift)][(int)(index & (ChunkSize - 1))];
}
