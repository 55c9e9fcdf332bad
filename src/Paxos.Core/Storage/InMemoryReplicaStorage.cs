using Paxos.Messages;
using Paxos.Protocol;

namespace Paxos.Storage;

/// <summary>
/// Storage that keeps everything in memory and honours the durability contract within the process: a
/// batch is "durable" once <see cref="PersistAsync"/> returns, and survives the replica being rebuilt from
/// <see cref="LoadAsync"/> (which the tests and the simulator use to model a crash and restart). It
/// survives no real crash of the process, and it grows with the history.
/// </summary>
public sealed class InMemoryReplicaStorage : IReplicaStorage
{
    private readonly Lock _lock = new();
    private readonly List<Proposal> _acceptedProposals = [];
    private readonly List<OrderedSlot> _orderedSlots = [];
    private readonly Dictionary<ClientId, ClientUpdate> _pending = [];
    private readonly List<ClientId> _pendingOrder = [];
    private ViewNumber _lastInstalled;
    private ViewNumber _lastAttempted;
    private long _lastBatch;
    private bool _rebuilding;

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
            var pending = new List<ClientUpdate>(_pendingOrder.Count);
            foreach (var client in _pendingOrder)
            {
                pending.Add(_pending[client]);
            }

            return ValueTask.FromResult(new PersistentState
            {
                LastInstalled = _lastInstalled,
                LastAttempted = _lastAttempted,
                AcceptedProposals = [.. _acceptedProposals],
                OrderedSlots = [.. _orderedSlots],
                PendingUpdates = pending,
                RequiresRebuild = _rebuilding,
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

                _pending[update.ClientId] = update;
            }
        }

        return ValueTask.CompletedTask;
    }
}
