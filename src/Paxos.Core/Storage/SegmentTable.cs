namespace Paxos.Storage;

/// <summary>Where a snapshot was taken in this storage's log: the batch it was taken in, of the incarnation (the
/// run of batches since a <see cref="FileReplicaStorage.LoadAsync"/>) that wrote it. Batch numbers start again at
/// each incarnation, so a batch number alone does not say whether a record is older.</summary>
/// <param name="Incarnation">The incarnation; this storage object counts them from 1.</param>
/// <param name="Batch">The batch number, within that incarnation.</param>
internal readonly record struct LogPosition(long Incarnation, long Batch);

/// <summary>
/// The log's segments, oldest first, with what decides whether a snapshot covers one: the newest batch written to
/// it (and its incarnation) and the highest slot any of its records holds. Kept in memory, rebuilt at recovery.
/// </summary>
/// <remarks>
/// A segment is released (deleted) only from the front, oldest first, and never the one being appended to, so the
/// log on disk is always a run of consecutive segments: a gap in it is damage, never a release. Recovery cannot tell
/// which batches wrote a recovered segment (batch numbers repeat across incarnations), so it marks them all as of
/// incarnation 0, older than every batch written since; their slot bound is the highest slot of that segment or any
/// before it, which is all a release from the front needs.
/// </remarks>
internal sealed class SegmentTable
{
    private readonly List<Entry> _segments = [];

    /// <summary>How many segments the log has.</summary>
    public int Count => _segments.Count;

    /// <summary>Forgets everything and takes the segments recovery found, oldest first, each with the highest slot
    /// of it or any segment before it.</summary>
    public void Reset(IReadOnlyList<(long Number, long MaxSlot)> recovered)
    {
        _segments.Clear();
        foreach (var (number, maxSlot) in recovered)
        {
            _segments.Add(new Entry(number) { MaxSlot = maxSlot });
        }
    }

    /// <summary>Notes that batch <paramref name="batch"/> of <paramref name="incarnation"/> wrote records holding
    /// slots up to <paramref name="maxSlot"/> (0 when none) to segment <paramref name="number"/>, which is the last
    /// segment or the one after it.</summary>
    public void Appended(long number, long incarnation, long batch, long maxSlot)
    {
        if (_segments.Count == 0 || _segments[^1].Number != number)
        {
            _segments.Add(new Entry(number));
        }

        var entry = _segments[^1];
        entry.Incarnation = incarnation;
        entry.LastBatch = batch;
        entry.MaxSlot = Math.Max(entry.MaxSlot, maxSlot);
    }

    /// <summary>Removes and returns the numbers of the segments, from the front, whose every record a snapshot taken
    /// at <paramref name="position"/> with sequence number <paramref name="sequence"/> makes redundant: each record is
    /// from an older batch, and each slot is at or below the sequence number. The last segment always stays.</summary>
    public List<long> TakeReleasable(LogPosition position, long sequence)
    {
        var released = new List<long>();
        while (_segments.Count > 1 && IsCovered(_segments[0], position, sequence))
        {
            released.Add(_segments[0].Number);
            _segments.RemoveAt(0);
        }

        return released;
    }

    private static bool IsCovered(Entry segment, LogPosition position, long sequence) =>
        segment.MaxSlot <= sequence
        && (segment.Incarnation < position.Incarnation
            || (segment.Incarnation == position.Incarnation && segment.LastBatch < position.Batch));

    private sealed class Entry(long number)
    {
        public long Number { get; } = number;

        /// <summary>The incarnation of the newest batch written to it; 0 for one recovered and not written since.</summary>
        public long Incarnation { get; set; }

        /// <summary>The newest batch written to it, of <see cref="Incarnation"/>.</summary>
        public long LastBatch { get; set; }

        public long MaxSlot { get; set; }
    }
}
