using Paxos.Messages;
using Paxos.Protocol;
using Paxos.Storage;

namespace Paxos.Simulation;

/// <summary>
/// Storage for a simulated replica that models a disk: a batch that requires a sync makes everything
/// written so far durable; records written without a sync (ordered slots) stay volatile until the next
/// sync, and a crash may lose any suffix of them (a torn write cut off at recovery leaves the same). Durable
/// records survive, unless the disk damages one (<see cref="CorruptDurableRecord"/>): then loading fails the way
/// <see cref="FileReplicaStorage"/>'s does, with a <see cref="StorageCorruptionException"/>.
/// </summary>
/// <remarks>It keeps snapshots as a disk does (<see cref="ISnapshotStorage"/>; SimulatedStorage.Snapshots.cs): the
/// bytes of their files, released log records and received partial files.</remarks>
public sealed partial class SimulatedStorage : ISnapshotStorage
{
    private readonly List<Record> _records = [];
    private readonly HashSet<(long View, long Sequence)> _durableAcceptances = [];
    private readonly HashSet<(long Client, long Timestamp)> _durablePending = [];
    private int _durableCount;
    private int _scannedDurableCount;
    private int _previousDurableCount;
    private int? _corruptRecord;

    /// <summary>Records written and not yet made durable by a sync.</summary>
    public int VolatileRecords => _records.Count - _durableCount;

    /// <summary>Whether a durable record is damaged, or the log was released and no snapshot is intact, so that loading
    /// fails until the storage is wiped.</summary>
    public bool IsDamaged => _corruptRecord is not null || NeedsMissingSnapshot;

    /// <summary>Whether the durable state says the replica is rebuilding from peers.</summary>
    public bool IsRebuilding { get; private set; }

    /// <summary>Batches persisted since the storage was created.</summary>
    public long BatchesPersisted { get; private set; }

    /// <summary>Syncs performed since the storage was created.</summary>
    public long Syncs { get; private set; }

    /// <summary>The highest view a durable record says was installed: what a restart would recover as
    /// <c>Last_Installed</c> whatever a crash loses.</summary>
    public ViewNumber DurableInstalledView { get; private set; }

    /// <summary>The highest view a durable record says was attempted (an installed view counts as attempted).</summary>
    public ViewNumber DurableAttemptedView { get; private set; }

    /// <summary>Called with each accepted Proposal as its record becomes durable (a sync, or a crash that keeps
    /// it): from then on, the replica's acceptance of its slots in its view survives any crash short of a lost
    /// disk. For oracles that judge what a majority holds.</summary>
    public Action<Proposal>? ProposalDurable { get; set; }

    /// <summary>Whether a durable record holds an accepted Proposal of <paramref name="view"/> for slot
    /// <paramref name="sequence"/>: an Accept, or a leader's Proposal that is its acceptance, may say so.</summary>
    public bool HasDurableAcceptance(ViewNumber view, SequenceNumber sequence) =>
        _durableAcceptances.Contains((view.Value, sequence.Value));

    /// <summary>Whether a durable record holds the pending update of <paramref name="client"/> with
    /// <paramref name="timestamp"/>: its origin may forward it.</summary>
    public bool HasDurablePending(ClientId client, long timestamp) =>
        _durablePending.Contains((client.Value, timestamp));

    /// <inheritdoc />
    public ValueTask<PersistentState> LoadAsync(CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Load());

    /// <summary>Reads what the storage holds, as a restarting replica would.</summary>
    /// <exception cref="StorageCorruptionException">A durable record is damaged.</exception>
    public PersistentState Load()
    {
        if (_corruptRecord is { } damaged)
        {
            throw new StorageCorruptionException(
                $"Simulated disk damage: record {damaged} of {_records.Count} fails its checksum, and records made durable after it follow.",
                "simulated",
                damaged);
        }

        var snapshot = LoadSnapshot();
        var view = ViewNumber.None;
        var attempted = ViewNumber.None;
        var proposals = new List<Proposal>();
        var ordered = new List<OrderedSlot>();
        var pending = new List<ClientUpdate>();
        foreach (var record in _records)
        {
            if (record.Released)
            {
                continue;
            }

            switch (record.Kind)
            {
                case RecordKind.View when record.View > view:
                    view = record.View;
                    attempted = view > attempted ? view : attempted;
                    break;
                case RecordKind.Attempted when record.View > attempted:
                    attempted = record.View;
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

        return new PersistentState { LastInstalled = view, LastAttempted = attempted, AcceptedProposals = proposals, OrderedSlots = ordered, PendingUpdates = pending, RequiresRebuild = IsRebuilding, Snapshot = snapshot };
    }

    /// <inheritdoc />
    public ValueTask PersistAsync(OutputBatch batch, CancellationToken cancellationToken = default)
    {
        Persist(batch);
        return ValueTask.CompletedTask;
    }

    /// <summary>Writes a batch, syncing when it requires it.</summary>
    public void Persist(OutputBatch batch) => Write(batch, sync: true);

    /// <summary>Writes a batch whose fsync never completes (the process dies during it): its records stay
    /// volatile, and its rebuild marker change does not happen.</summary>
    public void WriteWithoutSync(OutputBatch batch) => Write(batch, sync: false);

    /// <summary>The records written so far, durable or not: what a batch's fsync covers when it was written last.</summary>
    public int RecordCount => _records.Count;

    /// <summary>Completes the fsync of a batch written earlier with <see cref="WriteWithoutSync"/> (a slow disk): the
    /// records up to <paramref name="recordsEnd"/> (<see cref="RecordCount"/> right after the batch was written)
    /// become durable, and the batch's rebuild-marker change happens. Batches written after it stay volatile until
    /// their own sync: <see cref="PaxosNode"/>'s writer writes them only once this fsync returned.</summary>
    public void CompleteSync(OutputBatch batch, int recordsEnd)
    {
        ArgumentNullException.ThrowIfNull(batch);
        MarkSynced(batch, Math.Min(recordsEnd, _records.Count));
    }

    private void Write(OutputBatch batch, bool sync)
    {
        ArgumentNullException.ThrowIfNull(batch);
        BatchesPersisted++;
        var first = _records.Count;
        if (batch.AttemptedView is { } attempted)
        {
            _records.Add(new Record(RecordKind.Attempted, attempted, null, default, null));
        }

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

        TagRecords(first, batch.Number);

        if (sync)
        {
            MarkSynced(batch, _records.Count);
        }
    }

    private void MarkSynced(OutputBatch batch, int recordsEnd)
    {
        // The rebuild marker is synced with its batch (it always requires a sync).
        IsRebuilding = (IsRebuilding || batch.RebuildStarted) && !batch.RebuildCompleted;

        if (batch.RequiresSync && recordsEnd > _durableCount)
        {
            _previousDurableCount = _durableCount;
            _durableCount = recordsEnd;
            Syncs++;
            NoteDurable();
        }
    }

    /// <summary>Folds the records that became durable since the last call into the durable state the oracles read.</summary>
    private void NoteDurable()
    {
        for (var i = _scannedDurableCount; i < _durableCount; i++)
        {
            var record = _records[i];
            switch (record.Kind)
            {
                case RecordKind.View:
                    DurableInstalledView = record.View > DurableInstalledView ? record.View : DurableInstalledView;
                    DurableAttemptedView = record.View > DurableAttemptedView ? record.View : DurableAttemptedView;
                    break;
                case RecordKind.Attempted:
                    DurableAttemptedView = record.View > DurableAttemptedView ? record.View : DurableAttemptedView;
                    break;
                case RecordKind.Proposal:
                    var proposal = record.Proposal!;
                    for (var sequence = proposal.FirstSequence.Value; sequence <= proposal.LastSequence.Value; sequence++)
                    {
                        _durableAcceptances.Add((proposal.View.Value, sequence));
                    }

                    ProposalDurable?.Invoke(proposal);
                    break;
                case RecordKind.Pending:
                    _durablePending.Add((record.Pending!.ClientId.Value, record.Pending.Timestamp));
                    break;
                default:
                    break;
            }
        }

        _scannedDurableCount = _durableCount;
    }

    /// <summary>Models a lost disk: everything is gone (the replica must rebuild from its peers).</summary>
    public void Wipe()
    {
        _records.Clear();
        _durableCount = 0;
        _scannedDurableCount = 0;
        _previousDurableCount = 0;
        _corruptRecord = null;
        IsRebuilding = false;
        WipeSnapshots();
        _durableAcceptances.Clear();
        _durablePending.Clear();
        DurableInstalledView = ViewNumber.None;
        DurableAttemptedView = ViewNumber.None;
    }

    /// <summary>
    /// Models a damaged disk: one durable record, chosen at random among those a later sync vouches for, fails its
    /// checksum from now on. Those are the records whose damage the file storage detects: a later batch records that
    /// the log was durable beyond them (see <see cref="FileReplicaStorage"/>). Damage to the last synced batch
    /// cannot be told from a torn write by the file storage, so it is not simulated here; that limit is documented
    /// there.
    /// </summary>
    /// <returns>Whether a record was damaged (false when no sync vouches for any yet).</returns>
    public bool CorruptDurableRecord(SimulationRandom random)
    {
        ArgumentNullException.ThrowIfNull(random);
        if (_previousDurableCount == 0)
        {
            return false;
        }

        if (_corruptRecord is null)
        {
            // A released record's segment is gone: only a record still in the log can be found damaged.
            var kept = Enumerable.Range(0, _previousDurableCount).Where(i => !_records[i].Released).ToArray();
            if (kept.Length == 0)
            {
                return false;
            }

            _corruptRecord = kept[random.Next(0, kept.Length)];
        }

        return true;
    }

    /// <summary>Models a crash: keeps every durable record and a random prefix of the volatile ones
    /// (<paramref name="loseVolatile"/> false keeps them all, as if the OS flushed them).</summary>
    public void Crash(SimulationRandom random, bool loseVolatile)
    {
        ArgumentNullException.ThrowIfNull(random);
        if (loseVolatile && _records.Count > _durableCount)
        {
            var keep = _durableCount + random.Next(0, _records.Count - _durableCount + 1);
            _records.RemoveRange(keep, _records.Count - keep);
        }

        // Writes that survive past the last sync carry batch records saying the log was durable up to it.
        if (_records.Count > _durableCount)
        {
            _previousDurableCount = _durableCount;
        }

        _durableCount = _records.Count;
        _receiving = null; // A partial snapshot received from a peer is not synced: recovery deletes it.
        NoteDurable();
    }

    private enum RecordKind
    {
        View,
        Attempted,
        Proposal,
        Ordered,
        Pending,
    }

    private readonly record struct Record(RecordKind Kind, ViewNumber View, Proposal? Proposal, OrderedSlot Ordered, ClientUpdate? Pending)
    {
        /// <summary>The incarnation (the run of batches since a load) that wrote it: batch numbers restart at each.</summary>
        public long Incarnation { get; init; }

        /// <summary>The batch that wrote it, within <see cref="Incarnation"/>.</summary>
        public long Batch { get; init; }

        /// <summary>Whether a snapshot covered it and it was released (its segment deleted).</summary>
        public bool Released { get; init; }
    }
}
