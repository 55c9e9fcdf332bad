using Paxos.Messages;

namespace Paxos.Protocol;

// Snapshots, the release of the history they cover, and installing a peer's snapshot (issue: bounded state).
public sealed partial class PaxosReplica
{
    /// <summary>The last sequence number a snapshot was taken at (or restored or installed from); 0 when none.</summary>
    private long _lastSnapshotSequence;

    /// <summary>The newest snapshot known to be durable (acknowledged, recovered or installed); 0 when none.</summary>
    private long _durableSnapshotSequence;

    /// <summary>Whether a snapshot was taken and not yet acknowledged: no other is taken meanwhile.</summary>
    private bool _snapshotInFlight;

    /// <summary>The sequence number of the snapshot in flight. Not <see cref="_lastSnapshotSequence"/>: a peer's snapshot
    /// installed meanwhile moves that on, and the host still acknowledges the one it was given.</summary>
    private long _snapshotInFlightSequence;

    /// <summary>Set once the constructor has recovered the replica: no snapshot is taken while it replays its log.</summary>
    private readonly bool _recovered;

    /// <summary>The last sequence number released from memory (covered by a durable snapshot); 0 when none.</summary>
    public SequenceNumber ReleasedThrough => new(_history.Floor);

    /// <summary>
    /// Tells the replica that the snapshot it took at <paramref name="sequence"/> (<see cref="OutputBatch.Snapshot"/>)
    /// is durable. It then releases from memory every slot up to the snapshot's sequence number less
    /// <see cref="ProtocolOptions.RetainedSlots"/>, and may take the next snapshot.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">No snapshot at that sequence number is waiting.</exception>
    public void AcknowledgeSnapshot(SequenceNumber sequence)
    {
        ThrowIfFaulted();
        if (!_snapshotInFlight || sequence.Value != _snapshotInFlightSequence)
        {
            throw new ArgumentOutOfRangeException(nameof(sequence), sequence, $"No snapshot taken at {sequence} waits for its acknowledgement.");
        }

        try
        {
            _snapshotInFlight = false;
            _durableSnapshotSequence = Math.Max(_durableSnapshotSequence, sequence.Value);
            Release(_durableSnapshotSequence - _options.RetainedSlots);
            CheckInvariants();
        }
        catch (Exception exception) when (Fault(exception))
        {
            throw;
        }
    }

    /// <summary>
    /// Installs a snapshot a peer sent (state transfer), once it is durable here: the executor's state and the client
    /// table are replaced by the snapshot's, and the replica goes on from the slot after it, catching up the rest from
    /// its peers. A snapshot at or below <c>Local_Aru</c> changes nothing.
    /// </summary>
    /// <param name="snapshot">The snapshot, verified and durable in this replica's storage.</param>
    /// <returns>Whether it was installed.</returns>
    /// <exception cref="InvalidOperationException">The executor does not take snapshots, or the snapshot is of a
    /// cluster of another size.</exception>
    public bool InstallSnapshot(StoredSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ThrowIfFaulted();
        if (snapshot.State.Sequence.Value <= _localAru)
        {
            return false;
        }

        try
        {
            Restore(snapshot);
            Counters.SnapshotsInstalled++;
            Log.SnapshotInstalled(_logger, _id, snapshot.State.Sequence, snapshot.State.Clients.Count);

            // Local updates the snapshot shows executed (or superseded) are answered; slots after it that are ordered
            // already execute now.
            CompactPendingOrder();
            foreach (var (client, _) in _pendingOrder.ToArray())
            {
                AnswerPending(client);
            }

            AdvanceAru();
            CheckRebuildComplete();
            CheckInvariants();
            return true;
        }
        catch (Exception exception) when (Fault(exception))
        {
            throw;
        }
    }

    /// <summary>Takes a snapshot after an execution when one is due: every <see cref="ProtocolOptions.SnapshotIntervalSlots"/>
    /// executed slots, with an executor that takes snapshots and none in flight. The replica's pending updates are
    /// written again in the same batch, so that the log before it holds nothing that the snapshot and the log after it
    /// do not (the storage may then release it).</summary>
    private void MaybeTakeSnapshot()
    {
        if (!_recovered || _snapshotInFlight || _options.SnapshotIntervalSlots == 0
            || _executor is not ISnapshotExecutor executor || _localAru - _lastSnapshotSequence < _options.SnapshotIntervalSlots)
        {
            return;
        }

        var clients = new ClientTableEntry[_clientTable.Count];
        var i = 0;
        foreach (var (client, record) in _clientTable.InExecutionOrder())
        {
            clients[i++] = new ClientTableEntry(client, record.Timestamp, new SequenceNumber(record.Sequence), record.Result) { Rejected = record.Rejected };
        }

        Array.Sort(clients, static (a, b) => a.Client.Value.CompareTo(b.Client.Value));
        var state = new SnapshotState
        {
            Sequence = new SequenceNumber(_localAru),
            ClusterSize = _clusterSize,
            Clients = clients,
            ClientsExpiredThrough = _clientTable.ExpiredThrough,
        };
        _output.Snapshot = new TakenSnapshot(state, executor.CaptureSnapshot(), _output.Number);
        CompactPendingOrder();
        foreach (var (client, _) in _pendingOrder)
        {
            _output.AddPendingUpdate(_pending[client].Update);
        }

        _snapshotInFlight = true;
        _snapshotInFlightSequence = _localAru;
        _lastSnapshotSequence = _localAru;
        Counters.SnapshotsTaken++;
    }

    /// <summary>Replaces the executor's state, the client table and <c>Local_Aru</c> with a snapshot's, and releases the
    /// history it covers. Used at recovery and for a peer's snapshot.</summary>
    private void Restore(StoredSnapshot snapshot)
    {
        var state = snapshot.State;
        if (_executor is not ISnapshotExecutor executor)
        {
            throw new InvalidOperationException($"A snapshot at {state.Sequence} was found, but the executor ({_executor.GetType().Name}) does not implement {nameof(ISnapshotExecutor)}.");
        }

        if (state.ClusterSize != _clusterSize)
        {
            throw new InvalidOperationException($"The snapshot at {state.Sequence} is of a cluster of {state.ClusterSize} replicas; this one has {_clusterSize}.");
        }

        using (var stream = snapshot.OpenExecutorState())
        {
            executor.RestoreSnapshot(stream);
        }

        // The table takes its clients back in the order of their last executions (each at its own slot), as it lists them.
        _clientTable.Restore(
            state.ClientsExpiredThrough,
            state.Clients.OrderBy(entry => entry.Sequence.Value).Select(entry => (entry.Client, new ClientRecord(entry.Timestamp, entry.Sequence.Value, entry.Result, entry.Rejected))));

        var sequence = state.Sequence.Value;
        _localAru = sequence;
        _lastExecutedSequence = sequence;
        _highestOrdered = Math.Max(_highestOrdered, sequence);
        _lastProposed = Math.Max(_lastProposed, sequence);
        _lastSnapshotSequence = Math.Max(_lastSnapshotSequence, sequence);
        _durableSnapshotSequence = Math.Max(_durableSnapshotSequence, sequence);
        Release(sequence);
    }

    /// <summary>Releases the history up to <paramref name="sequence"/> (never beyond <c>Local_Aru</c>).</summary>
    private void Release(long sequence)
    {
        var through = Math.Min(sequence, _localAru);
        if (through > _history.Floor)
        {
            Counters.SlotsReleased += through - _history.Floor;
            _history.ReleaseThrough(through);
        }
    }
}
