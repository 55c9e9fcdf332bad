namespace Paxos.Simulation;

/// <summary>
/// Storage for a simulated replica that models a disk: a batch that requires a sync makes everything
/// written so far durable; records written without a sync (ordered slots) stay volatile until the next
/// sync, and a crash may lose any suffix of them. Durable records always survive.
/// </summary>
public sealed class SimulatedStorage : IReplicaStorage
{
    private readonly List<Record> _records = [];
    private int _durableCount;

    /// <summary>Records written and not yet made durable by a sync.</summary>
    public int VolatileRecords => _records.Count - _durableCount;

    /// <summary>Whether the durable state says the replica is rebuilding from peers.</summary>
    public bool IsRebuilding { get; private set; }

    /// <summary>Batches persisted since the storage was created.</summary>
    public long BatchesPersisted { get; private set; }

    /// <summary>Syncs performed since the storage was created.</summary>
    public long Syncs { get; private set; }

    /// <inheritdoc />
    public ValueTask<PersistentState> LoadAsync(CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Load());

    /// <summary>Reads what the storage holds, as a restarting replica would.</summary>
    public PersistentState Load()
    {
        var view = ViewNumber.None;
        var proposals = new List<Proposal>();
        var ordered = new List<OrderedSlot>();
        var pending = new List<ClientUpdate>();
        foreach (var record in _records)
        {
            switch (record.Kind)
            {
                case RecordKind.View when record.View > view:
                    view = record.View;
                    break;
                case RecordKind.Proposal:
                    proposals.Add(record.Proposal!);
                    break;
                case RecordKind.Ordered:
                    ordered.Add(record.Ordered);
                    break;
                case RecordKind.Pending:
                    pending.Add(record.Pending!);
                    break;
                default:
                    break;
            }
        }

        return new PersistentState { LastInstalled = view, AcceptedProposals = proposals, OrderedSlots = ordered, PendingUpdates = pending, RequiresRebuild = IsRebuilding };
    }

    /// <inheritdoc />
    public ValueTask PersistAsync(OutputBatch batch, CancellationToken cancellationToken = default)
    {
        Persist(batch);
        return ValueTask.CompletedTask;
    }

    /// <summary>Writes a batch, syncing when it requires it.</summary>
    public void Persist(OutputBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        BatchesPersisted++;
        if (batch.InstalledView is { } view)
        {
            _records.Add(new Record(RecordKind.View, view, null, default, null));
        }

        foreach (var proposal in batch.AcceptedProposals)
        {
            _records.Add(new Record(RecordKind.Proposal, default, proposal, default, null));
        }

        foreach (var update in batch.PendingUpdates)
        {
            _records.Add(new Record(RecordKind.Pending, default, null, default, update));
        }

        foreach (var slot in batch.OrderedSlots)
        {
            _records.Add(new Record(RecordKind.Ordered, default, null, slot, null));
        }

        // The rebuild marker is synced with its batch (it always requires a sync).
        IsRebuilding = (IsRebuilding || batch.RebuildStarted) && !batch.RebuildCompleted;

        if (batch.RequiresSync)
        {
            _durableCount = _records.Count;
            Syncs++;
        }
    }

    /// <summary>Models a lost disk: everything is gone (the replica must rebuild from its peers).</summary>
    public void Wipe()
    {
        _records.Clear();
        _durableCount = 0;
        IsRebuilding = false;
    }

    /// <summary>Models a crash: keeps every durable record and a random prefix of the volatile ones
    /// (<paramref name="loseVolatile"/> false keeps them all, as if the OS flushed them).</summary>
    public void Crash(SimulationRandom random, bool loseVolatile)
    {
        ArgumentNullException.ThrowIfNull(random);
        if (!loseVolatile || _records.Count == _durableCount)
        {
            _durableCount = _records.Count;
            return;
        }

        var keep = _durableCount + random.Next(0, _records.Count - _durableCount + 1);
        _records.RemoveRange(keep, _records.Count - keep);
        _durableCount = _records.Count;
    }

    private enum RecordKind
    {
        View,
        Proposal,
        Ordered,
        Pending,
    }

    private readonly record struct Record(RecordKind Kind, ViewNumber View, Proposal? Proposal, OrderedSlot Ordered, ClientUpdate? Pending);
}
