using Paxos.Messages;
using Paxos.Protocol;

namespace Paxos.Storage;

/// <summary>
/// Storage that keeps everything in memory and honours the durability contract within the process: a
/// batch is "durable" once <see cref="PersistAsync"/> returns, and survives the replica being rebuilt from
/// <see cref="LoadAsync"/> (which the tests and the simulator use to model a crash and restart). It
/// survives no real crash of the process.
/// </summary>
/// <remarks>Snapshots are kept as the bytes of their files (<see cref="SnapshotFormat"/>), the two newest, so that a
/// replica restarts from one and sends and receives them as a file storage does. Unlike a file, a snapshot held here
/// cannot be damaged, so a load always restarts from the newest, and each snapshot the replica writes releases what that
/// snapshot covers: accepted Proposals and ordered slots at or below its sequence number at once, and pending updates
/// written before the batch it was taken in once that batch is persisted here (that batch wrote the ones still pending
/// again). So with snapshots its memory is bounded by the state and one snapshot interval, not by uptime.</remarks>
public sealed class InMemoryReplicaStorage : ISnapshotStorage
{
    private readonly Lock _lock = new();
    private readonly List<Proposal> _acceptedProposals = [];
    private readonly List<OrderedSlot> _orderedSlots = [];
    private readonly Dictionary<ClientId, (ClientUpdate Update, long Incarnation, long Batch)> _pending = [];
    private readonly List<ClientId> _pendingOrder = [];
    private ViewNumber _lastInstalled;
    private ViewNumber _lastAttempted;
    private long _lastBatch;
    private bool _rebuilding;
    private readonly List<(SequenceNumber Sequence, byte[] Bytes, long Incarnation, long Batch)> _snapshots = [];
    private long _incarnation;
    private (SequenceNumber Sequence, MemoryStream Bytes)? _receiving;

    /// <summary>The highest sequence number whose ordered slots and accepted Proposals were released.</summary>
    private SequenceNumber _releasedThrough;

    /// <summary>The batch of this incarnation that the newest snapshot written here was taken in, while that batch is not
    /// persisted yet: the pending updates it wrote again are released once it is.</summary>
    private long? _releaseWhenPersisted;

    /// <summary>The number of the last batch persisted since the last <see cref="LoadAsync"/>.</summary>
    public long LastPersistedBatch
    {
        get
        {
            lock (_lock)
            {
                return _lastBatch;
            }
        }
    }

    /// <inheritdoc />
    public ValueTask<PersistentState> LoadAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            // A load starts a new incarnation of the replica, whose batches are numbered from 1 again.
            _lastBatch = 0;
            _incarnation++;
            _releaseWhenPersisted = null; // Batch numbers start again; the batch awaited belonged to the last incarnation.
            var pending = new List<ClientUpdate>(_pendingOrder.Count);
            foreach (var client in _pendingOrder)
            {
                pending.Add(_pending[client].Update);
            }

            return ValueTask.FromResult(new PersistentState
            {
                LastInstalled = _lastInstalled,
                LastAttempted = _lastAttempted,
                AcceptedProposals = [.. _acceptedProposals],
                OrderedSlots = [.. _orderedSlots],
                PendingUpdates = pending,
                RequiresRebuild = _rebuilding,
                Snapshot = _snapshots.Count == 0 ? null : Stored(_snapshots[^1].Bytes),
            });
        }
    }

    /// <inheritdoc />
    public ValueTask PersistAsync(OutputBatch batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            if (batch.Number <= _lastBatch)
            {
                throw new InvalidOperationException($"Batch {batch.Number} arrived after batch {_lastBatch}; batches must be persisted once each, in order.");
            }

            _lastBatch = batch.Number;
            if (batch.AttemptedView is { } attempted && attempted > _lastAttempted)
            {
                _lastAttempted = attempted;
            }

            if (batch.InstalledView is { } view && view > _lastInstalled)
            {
                _lastInstalled = view;
                _lastAttempted = view > _lastAttempted ? view : _lastAttempted;
            }

            _rebuilding = (_rebuilding || batch.RebuildStarted) && !batch.RebuildCompleted;
            _acceptedProposals.AddRange(batch.AcceptedProposals);
            _orderedSlots.AddRange(batch.OrderedSlots);
            foreach (var update in batch.PendingUpdates)
            {
                if (!_pending.ContainsKey(update.ClientId))
                {
                    _pendingOrder.Add(update.ClientId);
                }

                _pending[update.ClientId] = (update, _incarnation, batch.Number);
            }

            if (_releaseWhenPersisted is { } awaited && batch.Number >= awaited)
            {
                _releaseWhenPersisted = null;
                ReleasePendingBefore(_incarnation, awaited);
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public void WriteSnapshot(TakenSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        using var bytes = new MemoryStream();
        SnapshotFormat.Write(bytes, snapshot);
        long incarnation;
        lock (_lock)
        {
            incarnation = _incarnation;
        }

        Keep(snapshot.State.Sequence, bytes.ToArray(), incarnation, snapshot.BatchNumber);
        Release(snapshot.State.Sequence, incarnation, snapshot.BatchNumber);
    }

    /// <summary>Releases what the snapshot just written, <paramref name="sequence"/> taken in batch
    /// <paramref name="batch"/> of <paramref name="incarnation"/>, covers — if it is the newest kept, which a load restarts
    /// from.</summary>
    private void Release(SequenceNumber sequence, long incarnation, long batch)
    {
        lock (_lock)
        {
            if (_snapshots[^1].Sequence != sequence || sequence <= _releasedThrough)
            {
                return;
            }

            _releasedThrough = sequence;
            _orderedSlots.RemoveAll(slot => slot.Sequence <= sequence);
            _acceptedProposals.RemoveAll(proposal => proposal.LastSequence <= sequence);
            if (incarnation != _incarnation)
            {
                return; // Taken before the last load: whether its batch was persisted is not known here.
            }

            if (batch <= _lastBatch)
            {
                ReleasePendingBefore(incarnation, batch);
            }
            else
            {
                _releaseWhenPersisted = batch;
            }
        }
    }

    /// <summary>Releases the pending updates written before batch <paramref name="batch"/> of
    /// <paramref name="incarnation"/>, which is persisted and wrote every update still pending again.</summary>
    private void ReleasePendingBefore(long incarnation, long batch)
    {
        _pendingOrder.RemoveAll(client =>
        {
            var (_, writtenIn, writtenAt) = _pending[client];
            if (writtenIn > incarnation || (writtenIn == incarnation && writtenAt >= batch))
            {
                return false;
            }

            _pending.Remove(client);
            return true;
        });
    }

    /// <inheritdoc />
    public (SequenceNumber Sequence, long Length)? NewestSnapshot
    {
        get
        {
            lock (_lock)
            {
                return _snapshots.Count == 0 ? null : (_snapshots[^1].Sequence, _snapshots[^1].Bytes.LongLength);
            }
        }
    }

    /// <inheritdoc />
    public int ReadSnapshot(SequenceNumber sequence, long offset, Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        lock (_lock)
        {
            foreach (var (kept, bytes, _, _) in _snapshots)
            {
                if (kept == sequence)
                {
                    var available = bytes.AsSpan((int)Math.Min(offset, bytes.Length));
                    var count = Math.Min(available.Length, destination.Length);
                    available[..count].CopyTo(destination);
                    return count;
                }
            }

            return -1;
        }
    }

    /// <inheritdoc />
    public long ReceivedBytes(SequenceNumber sequence)
    {
        lock (_lock)
        {
            return _receiving is { } receiving && receiving.Sequence == sequence ? receiving.Bytes.Length : 0;
        }
    }

    /// <inheritdoc />
    public void AppendReceived(SequenceNumber sequence, long offset, ReadOnlySpan<byte> data)
    {
        lock (_lock)
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
    }

    /// <inheritdoc />
    public StoredSnapshot CompleteReceived(SequenceNumber sequence, long length)
    {
        byte[] bytes;
        lock (_lock)
        {
            var receiving = _receiving;
            _receiving = null;
            if (receiving is not { } received || received.Sequence != sequence || received.Bytes.Length != length)
            {
                throw new InvalidDataException($"The received snapshot {sequence.Value} was discarded: {length} bytes were expected, {(receiving is { } other && other.Sequence == sequence ? other.Bytes.Length : 0)} received.");
            }

            bytes = received.Bytes.ToArray();
        }

        var snapshot = Stored(bytes);
        if (snapshot.State.Sequence != sequence)
        {
            throw new InvalidDataException($"The received snapshot {sequence.Value} was discarded: it holds sequence number {snapshot.State.Sequence.Value}.");
        }

        Keep(sequence, bytes, incarnation: 0, batch: 0);
        return snapshot;
    }

    private void Keep(SequenceNumber sequence, byte[] bytes, long incarnation, long batch)
    {
        lock (_lock)
        {
            _snapshots.RemoveAll(kept => kept.Sequence == sequence);
            _snapshots.Add((sequence, bytes, incarnation, batch));
            _snapshots.Sort((left, right) => left.Sequence.CompareTo(right.Sequence));
            if (_snapshots.Count > 2)
            {
                _snapshots.RemoveRange(0, _snapshots.Count - 2);
            }
        }
    }

    private static StoredSnapshot Stored(byte[] bytes) => SnapshotFormat.Read(() => new MemoryStream(bytes, writable: false));
}
