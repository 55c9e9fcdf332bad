namespace Paxos.Hosting;

/// <summary>
/// The reads a node has handed to its replica and not yet answered, by the id it gave each; the loop's only. Ids are
/// given out here, one after the other, and reads are answered nearly in that order (a leader serves them round by
/// round, and times them out by a deadline that grows with the id), so the table is a ring indexed by id rather than a
/// hash table: adding, finding and removing a read cost an index each.
/// </summary>
/// <remarks>A read answered out of order leaves a hole in the ring until the reads before it are answered too. A read
/// that stays while the ring fills (a follower whose read-index reply was lost, say, while later ones came back) is
/// moved aside, into a small table of stragglers, once the ring has grown to its largest: the ring never holds more
/// than that many ids, and the stragglers are no more than the reads pending.</remarks>
internal sealed class PendingReadTable
{
    private const int InitialCapacity = 64;

    /// <summary>The most ids the ring spans; a power of two.</summary>
    private readonly int _maxCapacity;

    /// <summary>Reads moved out of the ring to make room, by id; created with the first.</summary>
    private Dictionary<long, PendingRead>? _stragglers;

    private PendingRead?[] _ring = new PendingRead?[InitialCapacity];

    /// <summary>The id of the read in the ring's first slot.</summary>
    private long _firstId = 1;

    /// <summary>Where the ring's first slot is in <see cref="_ring"/>.</summary>
    private int _head;

    /// <summary>How many ids the ring spans from <see cref="_firstId"/>, holes included; the next id is the one after.</summary>
    private int _span;

    /// <param name="maxPendingReads">The replica's bound on pending reads: the ring spans up to twice as many ids.</param>
    public PendingReadTable(int maxPendingReads)
    {
        _maxCapacity = (int)Math.Min(1 << 30, Math.Max(InitialCapacity, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)maxPendingReads * 2)));
    }

    /// <summary>How many reads the table holds.</summary>
    public int Count { get; private set; }

    /// <summary>Adds a read under the next id, and returns that id.</summary>
    public long Add(PendingRead read)
    {
        if (_span == _ring.Length)
        {
            MakeRoom();
        }

        var id = _firstId + _span;
        _ring[(_head + _span) & (_ring.Length - 1)] = read;
        _span++;
        Count++;
        return id;
    }

    /// <summary>Takes the read of <paramref name="id"/> out of the table; false when there is none (answered already,
    /// or never given out).</summary>
    public bool Remove(long id, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out PendingRead? read)
    {
        var offset = id - _firstId;
        if (offset < 0)
        {
            read = null;
            if (_stragglers is null || !_stragglers.Remove(id, out read))
            {
                return false;
            }

            Count--;
            return true;
        }

        if (offset >= _span)
        {
            read = null;
            return false;
        }

        var slot = (_head + (int)offset) & (_ring.Length - 1);
        read = _ring[slot];
        if (read is null)
        {
            return false;
        }

        _ring[slot] = null;
        Count--;
        if (offset == 0)
        {
            SkipHoles();
        }

        return true;
    }

    /// <summary>Takes every read out of the table, in no particular order.</summary>
    public List<PendingRead> TakeAll()
    {
        var all = new List<PendingRead>(Count);
        for (var i = 0; i < _span; i++)
        {
            var slot = (_head + i) & (_ring.Length - 1);
            if (_ring[slot] is { } read)
            {
                all.Add(read);
                _ring[slot] = null;
            }
        }

        if (_stragglers is not null)
        {
            all.AddRange(_stragglers.Values);
            _stragglers.Clear();
        }

        _firstId += _span;
        _head = 0;
        _span = 0;
        Count = 0;
        return all;
    }

    /// <summary>The ring is full: it doubles while it may grow, else its first read moves aside to the stragglers.</summary>
    private void MakeRoom()
    {
        if (_ring.Length < _maxCapacity)
        {
            var larger = new PendingRead?[_ring.Length * 2];
            for (var i = 0; i < _span; i++)
            {
                larger[i] = _ring[(_head + i) & (_ring.Length - 1)];
            }

            _ring = larger;
            _head = 0;
            return;
        }

        // The first slot holds a read (the ring never starts with a hole).
        (_stragglers ??= []).Add(_firstId, _ring[_head]!);
        _ring[_head] = null;
        _head = (_head + 1) & (_ring.Length - 1);
        _firstId++;
        _span--;
        SkipHoles();
    }

    /// <summary>Moves the ring's start past answered reads, so that it starts with a pending one or is empty.</summary>
    private void SkipHoles()
    {
        while (_span > 0 && _ring[_head] is null)
        {
            _head = (_head + 1) & (_ring.Length - 1);
            _firstId++;
            _span--;
        }
    }
}
