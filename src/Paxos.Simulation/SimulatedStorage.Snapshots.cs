using Paxos.Protocol;
using Paxos.Storage;

namespace Paxos.Simulation;

/// <summary>
/// The simulated disk's snapshots, with the file storage's semantics (<see cref="FileReplicaStorage"/>): a snapshot is
/// the bytes of its file (<see cref="SnapshotFormat"/>, so the same file travels between replicas), durable once
/// <see cref="WriteSnapshot"/> returns (a crash before that leaves the snapshots kept before); the two newest are kept;
/// the log is released against the older of the two when this storage took it (a record goes once it is from an older
/// batch — batch numbers restart with each incarnation, so each record carries both — and its slot, if any, is at or
/// below the snapshot's sequence number; view records stay, as the file storage's <c>view</c> file does); a snapshot
/// received from a peer is volatile until <see cref="CompleteReceived"/> (a crash loses it) and releases nothing; and a
/// load returns the newest snapshot that verifies, sets a damaged one aside, and refuses a released log without one.
/// </summary>
public sealed partial class SimulatedStorage
{
    /// <summary>The snapshots kept, in ascending order of sequence number: at most two.</summary>
    private readonly List<KeptSnapshot> _snapshots = [];

    /// <summary>The snapshot being received from a peer, unsynced.</summary>
    private (SequenceNumber Sequence, MemoryStream Bytes)? _receiving;

    /// <summary>Loads so far: the incarnation whose batches are being written now.</summary>
    private long _incarnation;

    /// <summary>Whether any log record was released against a snapshot.</summary>
    private bool _released;

    /// <summary>Snapshots written by this storage's replica (<see cref="WriteSnapshot"/>) since it was created.</summary>
    public int SnapshotsWritten { get; private set; }

    /// <summary>Snapshots received from peers and made durable (<see cref="CompleteReceived"/>).</summary>
    public int SnapshotsReceived { get; private set; }

    /// <summary>Damaged snapshots a load found and set aside.</summary>
    public int DamagedSnapshotsSetAside { get; private set; }

    /// <summary>Log records released against snapshots since the storage was created.</summary>
    public long RecordsReleased { get; private set; }

    /// <summary>The sequence numbers of the snapshots kept, oldest first.</summary>
    public IReadOnlyList<SequenceNumber> KeptSnapshots => [.. _snapshots.Select(static kept => kept.Sequence)];

    /// <summary>Whether the log was released and no kept snapshot verifies: a load would refuse it.</summary>
    private bool NeedsMissingSnapshot => _released && _snapshots.All(static kept => !Verifies(kept.Bytes));

    /// <inheritdoc />
    public void WriteSnapshot(TakenSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        using var bytes = new MemoryStream();
        SnapshotFormat.Write(bytes, snapshot);
        SnapshotsWritten++;
        Keep(new KeptSnapshot(snapshot.State.Sequence, bytes.ToArray(), _incarnation, snapshot.BatchNumber));
    }

    /// <inheritdoc />
    public (SequenceNumber Sequence, long Length)? NewestSnapshot =>
        _snapshots.Count == 0 ? null : (_snapshots[^1].Sequence, _snapshots[^1].Bytes.LongLength);

    /// <inheritdoc />
    public int ReadSnapshot(SequenceNumber sequence, long offset, Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        foreach (var kept in _snapshots)
        {
            if (kept.Sequence == sequence)
            {
                var available = kept.Bytes.AsSpan((int)Math.Min(offset, kept.Bytes.Length));
                var count = Math.Min(available.Length, destination.Length);
                available[..count].CopyTo(destination);
                return count;
            }
        }

        return -1;
    }

    /// <inheritdoc />
    public long ReceivedBytes(SequenceNumber sequence) =>
        _receiving is { } receiving && receiving.Sequence == sequence ? receiving.Bytes.Length : 0;

    /// <inheritdoc />
    public void AppendReceived(SequenceNumber sequence, long offset, ReadOnlySpan<byte> data)
    {
        if (_receiving is not { } receiving || receiving.Sequence != sequence)
        {
            receiving = (sequence, new MemoryStream());
            _receiving = receiving;
        }

        if (offset != receiving.Bytes.Length)
        {
            throw new ArgumentException($"Bytes of snapshot {sequence.Value} are held up to offset {receiving.Bytes.Length}; the next ones cannot start at {offset}.", nameof(offset));
        }

        receiving.Bytes.Write(data);
    }

    /// <inheritdoc />
    /// <exception cref="InvalidOperationException">A snapshot at or above <paramref name="sequence"/> is already kept, as
    /// the file storage refuses it.</exception>
    public StoredSnapshot CompleteReceived(SequenceNumber sequence, long length)
    {
        var receiving = _receiving;
        _receiving = null;
        if (_snapshots.Count > 0 && _snapshots[^1].Sequence >= sequence)
        {
            throw new InvalidOperationException($"Snapshot {sequence.Value} was received, but snapshot {_snapshots[^1].Sequence.Value} is already kept; a received snapshot must be newer.");
        }

        if (receiving is not { } received || received.Sequence != sequence || received.Bytes.Length != length)
        {
            throw new InvalidDataException($"The received snapshot {sequence.Value} was discarded: {length} bytes were expected, {(receiving is { } other && other.Sequence == sequence ? other.Bytes.Length : 0)} received.");
        }

        var bytes = received.Bytes.ToArray();
        var snapshot = Stored(bytes); // InvalidDataException when it does not verify.
        if (snapshot.State.Sequence != sequence)
        {
            throw new InvalidDataException($"The received snapshot {sequence.Value} was discarded: it holds sequence number {snapshot.State.Sequence.Value}.");
        }

        SnapshotsReceived++;
        Keep(new KeptSnapshot(sequence, bytes, Incarnation: 0, Batch: 0)); // Not taken here: it releases nothing.
        return snapshot;
    }

    /// <summary>
    /// Models a damaged snapshot file: a byte of the newest kept snapshot flips, so that it no longer verifies. A load
    /// sets it aside and falls back to the older one and the log after it — or, when the log was released and no other
    /// snapshot verifies, refuses to start (<see cref="IsDamaged"/>).
    /// </summary>
    /// <returns>Whether a snapshot was damaged (false when none is kept).</returns>
    public bool DamageNewestSnapshot(SimulationRandom random)
    {
        ArgumentNullException.ThrowIfNull(random);
        if (_snapshots.Count == 0)
        {
            return false;
        }

        var newest = _snapshots[^1];
        var bytes = (byte[])newest.Bytes.Clone();
        bytes[random.Next(0, bytes.Length)] ^= (byte)random.Next(1, 256);
        _snapshots[^1] = newest with { Bytes = bytes };
        return true;
    }

    /// <summary>The newest snapshot that verifies; newer ones that do not are set aside (deleted from the kept ones).
    /// Starts a new incarnation.</summary>
    /// <exception cref="StorageCorruptionException">The log was released against a snapshot and none verifies.</exception>
    private StoredSnapshot? LoadSnapshot()
    {
        _receiving = null;
        StoredSnapshot? chosen = null;
        while (_snapshots.Count > 0 && chosen is null)
        {
            var newest = _snapshots[^1];
            try
            {
                chosen = Stored(newest.Bytes);
            }
            catch (InvalidDataException)
            {
                _snapshots.RemoveAt(_snapshots.Count - 1);
                DamagedSnapshotsSetAside++;
            }
        }

        if (chosen is null && _released)
        {
            throw new StorageCorruptionException(
                "Simulated disk damage: the log was released against a snapshot, and no snapshot verifies.", "simulated", 0);
        }

        _incarnation++;
        return chosen;
    }

    /// <summary>Stamps the records a batch just wrote with its incarnation and number.</summary>
    private void TagRecords(int first, long batch)
    {
        for (var i = first; i < _records.Count; i++)
        {
            _records[i] = _records[i] with { Incarnation = _incarnation, Batch = batch };
        }
    }

    /// <summary>Takes a durable snapshot into the kept ones, keeps the two newest, and releases the log the older of the
    /// two covers when this storage took it.</summary>
    private void Keep(KeptSnapshot added)
    {
        _snapshots.RemoveAll(kept => kept.Sequence == added.Sequence);
        var at = _snapshots.FindIndex(kept => kept.Sequence > added.Sequence);
        _snapshots.Insert(at < 0 ? _snapshots.Count : at, added);
        if (_snapshots.Count > 2)
        {
            _snapshots.RemoveRange(0, _snapshots.Count - 2);
        }

        var older = _snapshots[0];
        if (_snapshots.Count < 2 || older.Batch == 0)
        {
            return;
        }

        for (var i = 0; i < _records.Count; i++)
        {
            var record = _records[i];
            if (!record.Released && IsCovered(record, older))
            {
                _records[i] = record with { Released = true };
                _released = true;
                RecordsReleased++;
            }
        }
    }

    /// <summary>Whether a snapshot makes a record redundant: it is from an older batch, and its slot, if any, is at or
    /// below the snapshot's sequence number. View records are never released (the file storage keeps them in a file of
    /// their own).</summary>
    private static bool IsCovered(Record record, KeptSnapshot snapshot)
    {
        var slot = record.Kind switch
        {
            RecordKind.Proposal => record.Proposal!.LastSequence.Value,
            RecordKind.Ordered => record.Ordered.Sequence.Value,
            RecordKind.Pending => 0,
            _ => long.MaxValue,
        };
        return slot <= snapshot.Sequence.Value
            && (record.Incarnation < snapshot.Incarnation || (record.Incarnation == snapshot.Incarnation && record.Batch < snapshot.Batch));
    }

    private void WipeSnapshots()
    {
        _snapshots.Clear();
        _receiving = null;
        _released = false;
    }

    private static bool Verifies(byte[] bytes)
    {
        try
        {
            _ = Stored(bytes);
            return true;
        }
        catch (InvalidDataException)
        {
            return false;
        }
    }

    private static StoredSnapshot Stored(byte[] bytes) => SnapshotFormat.Read(() => new MemoryStream(bytes, writable: false));

    /// <summary>A kept snapshot file: its bytes, and where this storage's log stood when it was taken (batch 0 for one
    /// received from a peer).</summary>
    private sealed record KeptSnapshot(SequenceNumber Sequence, byte[] Bytes, long Incarnation, long Batch);
}
