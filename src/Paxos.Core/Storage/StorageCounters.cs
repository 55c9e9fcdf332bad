namespace Paxos.Storage;

/// <summary>
/// What a <see cref="FileReplicaStorage"/> did, for metrics, tests and benchmarks. The values may be read from
/// any thread; they only grow, except the two <c>LastRecovery</c> values, which describe the latest recovery.
/// </summary>
public sealed class StorageCounters
{
    private long _batchesPersisted;
    private long _recordsWritten;
    private long _bytesWritten;
    private long _fsyncs;
    private long _fsyncTimeTicks;
    private long _segmentsCreated;
    private long _snapshotsWritten;
    private long _segmentsReleased;
    private long _lastRecoveryRecordsRead;
    private long _lastRecoveryTornBytes;

    internal StorageCounters()
    {
    }

    /// <summary>Batches that wrote something (log records, the view, or both). Empty batches and batches with
    /// nothing durable (only messages and replies) are not counted.</summary>
    public long BatchesPersisted => Volatile.Read(ref _batchesPersisted);

    /// <summary>Log records written: accepted Proposals, runs of ordered slots and pending updates. The one batch
    /// record that starts each write is not counted.</summary>
    public long RecordsWritten => Volatile.Read(ref _recordsWritten);

    /// <summary>Bytes appended to log segments by batches, batch records included; segment headers and the
    /// <c>view</c> file are not counted.</summary>
    public long BytesWritten => Volatile.Read(ref _bytesWritten);

    /// <summary>fsync calls of every kind: on a segment, on the <c>view</c> file, on the directory.</summary>
    public long Fsyncs => Volatile.Read(ref _fsyncs);

    /// <summary>The time spent in those fsync calls, in <see cref="TimeSpan"/> ticks (100 ns).</summary>
    public long FsyncTimeTicks => Volatile.Read(ref _fsyncTimeTicks);

    /// <summary>Segment files created.</summary>
    public long SegmentsCreated => Volatile.Read(ref _segmentsCreated);

    /// <summary>Snapshots this storage wrote (<see cref="FileReplicaStorage.WriteSnapshot"/>); received ones are not counted.</summary>
    public long SnapshotsWritten => Volatile.Read(ref _snapshotsWritten);

    /// <summary>Log segments deleted because a snapshot covered every record in them.</summary>
    public long SegmentsReleased => Volatile.Read(ref _segmentsReleased);

    /// <summary>Log records read by the latest recovery (<see cref="FileReplicaStorage.LoadAsync"/>), batch
    /// records included.</summary>
    public long LastRecoveryRecordsRead => Volatile.Read(ref _lastRecoveryRecordsRead);

    /// <summary>Bytes of a torn write cut off the end of the log by the latest recovery: from the end of the last
    /// intact record to the last byte that was not zero (zeros are what a preallocated segment holds anyway).</summary>
    public long LastRecoveryTornBytes => Volatile.Read(ref _lastRecoveryTornBytes);

    internal void CountBatch(int records, int bytes)
    {
        Interlocked.Increment(ref _batchesPersisted);
        Interlocked.Add(ref _recordsWritten, records);
        Interlocked.Add(ref _bytesWritten, bytes);
    }

    /// <summary>Told each fsync's duration, on the thread that ran it: the node's metrics, when it has any. Set before
    /// the storage is used.</summary>
    internal Action<TimeSpan>? FsyncObserved { get; set; }

    internal void CountFsync(TimeSpan elapsed)
    {
        Interlocked.Increment(ref _fsyncs);
        Interlocked.Add(ref _fsyncTimeTicks, elapsed.Ticks);
        FsyncObserved?.Invoke(elapsed);
    }

    internal void CountSegmentCreated() => Interlocked.Increment(ref _segmentsCreated);

    internal void CountSnapshotWritten() => Interlocked.Increment(ref _snapshotsWritten);

    internal void CountSegmentReleased() => Interlocked.Increment(ref _segmentsReleased);

    internal void SetLastRecovery(long recordsRead, long tornBytes)
    {
        Volatile.Write(ref _lastRecoveryRecordsRead, recordsRead);
        Volatile.Write(ref _lastRecoveryTornBytes, tornBytes);
    }
}
