using System.Globalization;
using Microsoft.Win32.SafeHandles;
using Paxos.Diagnostics;
using Paxos.Protocol;

namespace Paxos.Storage;

/// <remarks>
/// <para><b>Snapshots.</b> Each is a file <c>snapshot-NNNNNNNNNNNN.snap</c> (<see cref="SnapshotFormat"/>; the number is
/// its sequence number), written as <c>.snap.tmp</c>, fsynced, renamed into place, directory fsynced. The two with the
/// highest sequence numbers are kept, older ones deleted. Then the log is released against the older of the two: the
/// segments, from the oldest on, whose every record is from a batch older than the one that snapshot was taken in
/// (batches of an earlier incarnation are all older) and whose every slot is at or below its sequence number are
/// deleted, one at a time, each deletion made durable before the next, so a crash leaves a run of consecutive segments.
/// The log after the older snapshot stays, so a damaged newest snapshot can be replaced by the older one and the log.
/// A snapshot found at recovery or received from a peer does not say where it was taken in this log, so it releases
/// nothing; the replica's next own snapshot does.</para>
/// <para><see cref="WriteSnapshot"/> runs on a thread of its own: it holds the storage's lock only to look things up
/// and to update what is kept, never while it writes, so batches go on being persisted. <see cref="LoadAsync"/> and
/// <see cref="Dispose"/> wait for it.</para>
/// <para><b>Recovering snapshots.</b> <c>.snap.tmp</c> and <c>.partial</c> files are deleted. The newest snapshot
/// that verifies end to end is returned in <see cref="PersistentState.Snapshot"/>; a newer one that does not is
/// renamed <c>.snap.damaged</c> with a warning. The log is returned whole, records at or below the snapshot's sequence
/// number included (the replica ignores them). A log that no longer starts at segment 1 was released against a
/// snapshot, so without a valid one it is refused (<see cref="StorageCorruptionException"/>).</para>
/// <para><b>Receiving.</b> A snapshot from a peer is appended to <c>snapshot-NNNNNNNNNNNN.partial</c>, one at a time
/// and unsynced; <see cref="CompleteReceived"/> verifies it, fsyncs it and renames it into place as the newest. A
/// partial file does not survive a restart (recovery deletes it): the transfer starts again from the beginning.</para>
/// </remarks>
public sealed partial class FileReplicaStorage
{
    /// <summary>Held by a snapshot write for its whole length, and by what must not overlap one (recovery, disposal).
    /// Taken before <see cref="_receiveGate"/> and <see cref="_gate"/>.</summary>
    private readonly Lock _snapshotGate = new();

    /// <summary>Held by the members that receive a snapshot; taken before <see cref="_gate"/>.</summary>
    private readonly Lock _receiveGate = new();

    private readonly SegmentTable _segments = new();

    /// <summary>The snapshot files kept, in ascending order of sequence number; under <see cref="_gate"/>.</summary>
    private readonly List<KeptSnapshot> _snapshots = [];

    private SequenceNumber _receiveSequence;
    private SafeFileHandle? _receiveHandle;
    private string? _receivePath;
    private long _receivedBytes;

    /// <summary>The log's segments, oldest first; for tests.</summary>
    internal int SegmentCount
    {
        get
        {
            lock (_gate)
            {
                return _segments.Count;
            }
        }
    }

    /// <inheritdoc />
    /// <remarks>Must come from the replica that loaded this storage last (its <see cref="TakenSnapshot.BatchNumber"/>
    /// counts that incarnation's batches). A failed fsync stops the storage, as in the log; any other failure (the
    /// executor's, a full disk) deletes the temporary file and is thrown, and the storage goes on.</remarks>
    /// <exception cref="InvalidOperationException">The storage was never loaded, or it stopped after a failure.</exception>
    public void WriteSnapshot(TakenSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        lock (_snapshotGate)
        {
            LogPosition position;
            lock (_gate)
            {
                ThrowIfUnusable();
                if (_segment is null)
                {
                    throw new InvalidOperationException("A snapshot is written once the storage is loaded (LoadAsync) and its batch persisted.");
                }

                position = new LogPosition(_incarnation, snapshot.BatchNumber);
            }

            var directory = _options.DataDirectory;
            var sequence = snapshot.State.Sequence;
            var path = SnapshotFiles.PathOf(directory, sequence);
            var length = Guarded(() => SnapshotFiles.WriteDurably(
                directory, path, SnapshotFiles.TempPathOf(directory, sequence), stream => SnapshotFormat.Write(stream, snapshot), _options.SyncEnabled, Counters));
            Counters.CountSnapshotWritten();
            StorageLog.SnapshotWritten(_logger, directory, path, length, sequence.Value);
            Keep(new KeptSnapshot(sequence, path, length, position));
        }
    }

    /// <inheritdoc />
    public (SequenceNumber Sequence, long Length)? NewestSnapshot
    {
        get
        {
            lock (_gate)
            {
                return _snapshots.Count == 0 ? null : (_snapshots[^1].Sequence, _snapshots[^1].Length);
            }
        }
    }

    /// <inheritdoc />
    public int ReadSnapshot(SequenceNumber sequence, long offset, Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        string? path = null;
        lock (_gate)
        {
            ThrowIfUnusable();
            foreach (var kept in _snapshots)
            {
                path = kept.Sequence == sequence ? kept.Path : path;
            }
        }

        if (path is null)
        {
            return -1;
        }

        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete);
            var read = 0;
            while (read < destination.Length)
            {
                var count = RandomAccess.Read(handle, destination[read..], offset + read);
                if (count == 0)
                {
                    break;
                }

                read += count;
            }

            return read;
        }
        catch (FileNotFoundException)
        {
            return -1; // Deleted by a newer snapshot's keep-two rule between the look-up and the open.
        }
    }

    /// <inheritdoc />
    public long ReceivedBytes(SequenceNumber sequence)
    {
        lock (_receiveGate)
        {
            return _receiveHandle is not null && _receiveSequence == sequence ? _receivedBytes : 0;
        }
    }

    /// <inheritdoc />
    /// <remarks>The bytes are written to <c>snapshot-NNNNNNNNNNNN.partial</c> without an fsync:
    /// <see cref="CompleteReceived"/> makes the whole file durable at once.</remarks>
    public void AppendReceived(SequenceNumber sequence, long offset, ReadOnlySpan<byte> data)
    {
        lock (_receiveGate)
        {
            lock (_gate)
            {
                ThrowIfUnusable();
                if (_segment is null)
                {
                    throw new InvalidOperationException("A snapshot is received once the storage is loaded (LoadAsync).");
                }
            }

            if (_receiveHandle is null || _receiveSequence != sequence)
            {
                AbandonReceive();
                if (offset != 0)
                {
                    throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"Bytes of snapshot {sequence.Value} start at offset 0, not {offset}: none of it is held."), nameof(offset));
                }

                _receivePath = SnapshotFiles.PartialPathOf(_options.DataDirectory, sequence);
                _receiveHandle = File.OpenHandle(_receivePath, FileMode.Create, FileAccess.ReadWrite, FileShare.Read);
                _receiveSequence = sequence;
                _receivedBytes = 0;
            }
            else if (offset != _receivedBytes)
            {
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"Bytes of snapshot {sequence.Value} are held up to offset {_receivedBytes}; the next ones cannot start at {offset}."), nameof(offset));
            }

            DurableIo.Write(_receiveHandle, _receivePath!, data, offset);
            _receivedBytes += data.Length;
        }
    }

    /// <inheritdoc />
    /// <remarks>Runs on the caller's thread: it reads the whole file once to verify it. The snapshot must be newer than
    /// every snapshot kept.</remarks>
    /// <exception cref="InvalidOperationException">A snapshot at or above <paramref name="sequence"/> is already kept
    /// (the received one is discarded), or the storage stopped after a failure.</exception>
    public StoredSnapshot CompleteReceived(SequenceNumber sequence, long length)
    {
        lock (_receiveGate)
        {
            lock (_gate)
            {
                ThrowIfUnusable();
                if (_snapshots.Count > 0 && _snapshots[^1].Sequence >= sequence)
                {
                    AbandonReceive();
                    throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                        $"Snapshot {sequence.Value} was received, but snapshot {_snapshots[^1].Sequence.Value} is already kept; a received snapshot must be newer."));
                }
            }

            var reason = _receiveHandle is null || _receiveSequence != sequence
                ? $"none of it is held"
                : _receivedBytes != length ? $"{_receivedBytes} bytes were received, but the file is {length} bytes long" : null;
            var partial = _receivePath;
            SnapshotFormat.Layout? layout = null;
            if (reason is null)
            {
                Guarded(() => DurableIo.FlushFile(_receiveHandle!, _options.SyncEnabled, Counters));
                CloseReceive();
                layout = SnapshotFiles.TryVerify(partial!, sequence, out reason);
            }

            if (layout is not { } verified)
            {
                AbandonReceive();
                StorageLog.ReceivedSnapshotRefused(_logger, _options.DataDirectory, sequence.Value, reason!);
                throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"The received snapshot {sequence.Value} was discarded: {reason}"));
            }

            var path = SnapshotFiles.PathOf(_options.DataDirectory, sequence);
            Guarded(() =>
            {
                File.Move(partial!, path, overwrite: true);
                DurableIo.FlushDirectory(_options.DataDirectory, _options.SyncEnabled, Counters);
            });
            StorageLog.SnapshotReceived(_logger, _options.DataDirectory, path, length, sequence.Value);
            _receivePath = null;
            _receivedBytes = 0;
            Keep(new KeptSnapshot(sequence, path, length, Position: null));
            return SnapshotFormat.Bind(verified, () => SnapshotFiles.OpenRead(path));
        }
    }

    /// <summary>Takes a durable snapshot into the kept ones, deletes those beyond the two newest, and releases the log
    /// the older of the two covers. Only the bookkeeping holds the lock; the deletions run outside it, in the order
    /// that keeps a crash safe: the snapshots first (durably), then the segments, oldest first, one durable deletion
    /// at a time.</summary>
    private void Keep(KeptSnapshot added)
    {
        List<KeptSnapshot> dropped;
        List<long> released;
        SequenceNumber releasedBy;
        lock (_gate)
        {
            ThrowIfUnusable();
            _snapshots.RemoveAll(kept => kept.Sequence == added.Sequence);
            var at = _snapshots.FindIndex(kept => kept.Sequence > added.Sequence);
            _snapshots.Insert(at < 0 ? _snapshots.Count : at, added);
            dropped = _snapshots.GetRange(0, Math.Max(0, _snapshots.Count - 2));
            _snapshots.RemoveRange(0, dropped.Count);
            var older = _snapshots[0];
            releasedBy = older.Sequence;
            released = _snapshots.Count == 2 && older.Position is { } position
                ? _segments.TakeReleasable(position, older.Sequence.Value)
                : [];
        }

        var directory = _options.DataDirectory;
        Guarded(() =>
        {
            foreach (var snapshot in dropped)
            {
                File.Delete(snapshot.Path);
                StorageLog.DeletedSnapshot(_logger, directory, snapshot.Path);
            }

            if (dropped.Count > 0)
            {
                DurableIo.FlushDirectory(directory, _options.SyncEnabled, Counters);
            }

            foreach (var number in released)
            {
                var segment = Path.Combine(directory, WalFormat.SegmentFileName(number));
                File.Delete(segment);
                DurableIo.FlushDirectory(directory, _options.SyncEnabled, Counters);
                Counters.CountSegmentReleased();
                StorageLog.ReleasedSegment(_logger, directory, segment, releasedBy.Value);
            }
        });
    }

    /// <summary>Runs a step of writing a snapshot or releasing the log; a failed fsync stops the storage (fail-stop,
    /// as in the log), any other failure is thrown and the storage goes on.</summary>
    private void Guarded(Action step) => Guarded(() =>
    {
        step();
        return 0;
    });

    private T Guarded<T>(Func<T> step)
    {
        try
        {
            return step();
        }
        catch (SyncFailedException exception)
        {
            lock (_gate)
            {
                Fault(exception);
            }

            throw;
        }
    }

    /// <summary>Closes the partial file of a snapshot being received, if any; the file stays until
    /// <see cref="AbandonReceive"/> or recovery deletes it.</summary>
    private void CloseReceive()
    {
        _receiveHandle?.Dispose();
        _receiveHandle = null;
    }

    /// <summary>Gives up the snapshot being received, if any: closes and deletes its partial file.</summary>
    private void AbandonReceive()
    {
        CloseReceive();
        if (_receivePath is { } path)
        {
            SnapshotFiles.TryDelete(path);
        }

        _receivePath = null;
        _receivedBytes = 0;
    }

    /// <summary>Refuses a log that was released against a snapshot when no snapshot verifies: replaying it alone would
    /// silently forget every update the released segments held.</summary>
    private void ThrowIfLogNeedsSnapshot(RecoveredSnapshots snapshots)
    {
        var segments = WalRecovery.ListSegments(_options.DataDirectory);
        if (snapshots.Chosen is not null || segments.Count == 0 || segments[0] == 1)
        {
            return;
        }

        var missing = Path.Combine(_options.DataDirectory, WalFormat.SegmentFileName(segments[0] - 1));
        var found = snapshots.Damaged.Count == 0
            ? "there is no snapshot file"
            : $"every snapshot is damaged ({string.Join(", ", snapshots.Damaged.Select(Path.GetFileName))}, set aside as .snap.damaged)";
        throw new StorageCorruptionException(string.Create(CultureInfo.InvariantCulture,
            $"The log in {_options.DataDirectory} needs a snapshot: segment {segments[0] - 1} is missing and the log starts at segment {segments[0]}, as after the segments before it were released because a snapshot covered them, but {found}. The log alone would replay an incomplete history, so the storage refuses to start. It needs an operator: restore the data directory (or a snapshot file) from a copy, or wipe it and restart the replica with PaxosOptions.RebuildFromPeers."),
            missing, 0);
    }

    private static PersistentState WithSnapshot(PersistentState state, StoredSnapshot? snapshot) => snapshot is null ? state : new PersistentState
    {
        LastInstalled = state.LastInstalled,
        LastAttempted = state.LastAttempted,
        Snapshot = snapshot,
        AcceptedProposals = state.AcceptedProposals,
        OrderedSlots = state.OrderedSlots,
        PendingUpdates = state.PendingUpdates,
        RequiresRebuild = state.RequiresRebuild,
    };
}
