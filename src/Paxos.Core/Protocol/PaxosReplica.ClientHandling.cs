using System.Runtime.InteropServices;
using Paxos.Messages;

namespace Paxos.Protocol;

// Client handling (TR §5.7, Figs. 12–13).
public sealed partial class PaxosReplica
{
    /// <summary>Update_Queue: updates waiting for the leader to bind them; bounded by MaxUpdateQueueLength.</summary>
    private readonly Queue<ClientUpdate> _updateQueue = new();

    /// <summary>Last_Enqueued[]: the last timestamp of each client queued (or found bound) in this view.</summary>
    private readonly Dictionary<ClientId, long> _lastEnqueued = [];

    /// <summary>
    /// The client table (G13): Last_Executed[] plus the reply of each client's last executed update, bounded by
    /// <see cref="ProtocolOptions.ClientExpirySlots"/>. It is replicated state — every replica computes the same table
    /// from the same ordered updates — so any replica can answer a re-submitted update.
    /// </summary>
    private readonly ClientTable _clientTable;

    /// <summary>Pending_Updates[]: local updates this replica is responsible for until they execute.</summary>
    private readonly Dictionary<ClientId, PendingUpdate> _pending = [];

    /// <summary>The entries of <see cref="_pending"/> in the order they were added, so that sweeps never depend
    /// on hashing. An entry whose client is no longer pending (or pending with a newer update) is stale and
    /// is compacted away lazily.</summary>
    private readonly List<(ClientId Client, long Order)> _pendingOrder = [];

    private long _nextPendingOrder;

    /// <summary>The bound on Pending_Updates: MaxPendingUpdates, or more if a restart recovered more.</summary>
    private int _pendingLimit;

    /// <summary>Local updates to forward to the leader with the next batch.</summary>
    private readonly List<ClientUpdate> _forwards = [];

    /// <summary>Sweeps Pending_Updates for Update_Timer expiries, at a quarter of their period.</summary>
    private Timeout _updateTimer;

    /// <summary>TR Fig. 12 A, Client_Update_Handler for a local client, with the client table in front (G13).</summary>
    private SubmitStatus OnSubmit(ClientUpdate update)
    {
        if (update.Payload.Length > _options.MaxUpdateBytes)
        {
            return SubmitStatus.TooLarge;
        }

        var client = update.ClientId;
        if (_clientTable.TryGet(client, out var record) && update.Timestamp <= record.Timestamp)
        {
            if (update.Timestamp < record.Timestamp)
            {
                return SubmitStatus.Stale;
            }

            Counters.RepliesFromClientTable++;
            _output.AddReply(new ClientReply(client, record.Timestamp, new SequenceNumber(record.Sequence), record.Status, record.Result));
            return SubmitStatus.AlreadyExecuted;
        }

        if (_clientTable.IsExpired(update, _lastExecutedSequence))
        {
            // It could never execute from here on (the mark only rises, and the client returns to the table only with
            // a higher timestamp; a session forgotten, or never registered at a slot this replica executed, never
            // returns), so the client hears at once rather than after a slot is spent refusing it.
            Counters.ExpiredSubmissionsRefused++;
            _output.AddReply(new ClientReply(client, update.Timestamp, SequenceNumber.None, ReplyStatus.Expired, default));
            return SubmitStatus.Expired;
        }

        if (_pending.TryGetValue(client, out var pending))
        {
            if (pending.Update.Timestamp == update.Timestamp)
            {
                return SubmitStatus.Accepted; // Already responsible for it.
            }

            if (pending.Update.Timestamp > update.Timestamp)
            {
                return SubmitStatus.Stale;
            }

            // The client moved on: it will never be told about the older update.
            _output.AddReply(new ClientReply(client, pending.Update.Timestamp, SequenceNumber.None, ReplyStatus.Superseded, default));
            _pending.Remove(client);
        }
        else if (_pending.Count >= _options.MaxPendingUpdates)
        {
            return SubmitStatus.Overloaded;
        }

        // Add_to_Pending_Updates (TR Fig. 13 B): responsible from now on, across crashes too; the batch
        // contract syncs it before it is forwarded or proposed.
        var local = update.WithOrigin(_id);
        AddPending(local, _tick);
        _output.AddPendingUpdate(local);
        switch (_state)
        {
            case ReplicaState.RegularNonLeader:
                _forwards.Add(local);
                break;
            case ReplicaState.RegularLeader:
                Enqueue(local);
                break;
            default:
                // In leader election the update waits in Pending_Updates: the next leader enqueues it
                // (Enqueue_Unbound_Pending_Updates) or this replica forwards it once it follows one.
                break;
        }

        return SubmitStatus.Accepted;
    }

    /// <summary>TR Fig. 13 A, Enqueue_Update: refuse what executed or was queued in this view. An update whose client
    /// expired is not refused here: its origin waits for an answer, and the slot that refuses it gives one.</summary>
    private bool Enqueue(ClientUpdate update)
    {
        if (IsExecuted(update)
            || (_lastEnqueued.TryGetValue(update.ClientId, out var enqueued) && update.Timestamp <= enqueued))
        {
            return false;
        }

        if (_updateQueue.Count >= _options.MaxUpdateQueueLength)
        {
            Counters.CountDrop(DropReason.QueueFull);
            return false;
        }

        _updateQueue.Enqueue(update);
        _lastEnqueued[update.ClientId] = update.Timestamp;
        return true;
    }

    /// <summary>TR Fig. 12 A for updates forwarded by their origin: only a regular leader takes them.</summary>
    private void OnClientUpdateForward(ClientUpdateForward message)
    {
        if (message.Sender == _id)
        {
            Drop(message, DropReason.FromSelf);
            return;
        }

        if (message.UpdateArray.Length > 65_536 || !AreValidUpdates(message.UpdateArray, allowNoOp: false))
        {
            Drop(message, DropReason.Malformed);
            return;
        }

        if (_state != ReplicaState.RegularLeader)
        {
            // The origin keeps the update pending and forwards it again to whoever leads next.
            Drop(message, DropReason.WrongState);
            return;
        }

        foreach (var update in message.UpdateArray)
        {
            Enqueue(update);
        }
    }

    /// <summary>TR Fig. 9 A3 with G12: mark every update bound above Local_Aru as enqueued in this view.</summary>
    private void MarkBoundUpdatesEnqueued()
    {
        for (var sequence = _localAru + 1; sequence <= _constrainedUpTo; sequence++)
        {
            ref readonly var slot = ref _history.Peek(sequence);
            if (slot.IsEmpty || slot.Update!.IsNoOp)
            {
                continue;
            }

            var update = slot.Update;
            if (!_lastEnqueued.TryGetValue(update.ClientId, out var enqueued) || enqueued < update.Timestamp)
            {
                _lastEnqueued[update.ClientId] = update.Timestamp;
            }
        }
    }

    /// <summary>TR Fig. 9 A2, Enqueue_Unbound_Pending_Updates.</summary>
    private void EnqueueUnboundPendingUpdates()
    {
        CompactPendingOrder();
        foreach (var (client, _) in _pendingOrder)
        {
            Enqueue(_pending[client].Update);
        }
    }

    /// <summary>Add_to_Pending_Updates (TR Fig. 13 B), for the in-memory part: the caller persists it.</summary>
    private void AddPending(ClientUpdate update, long lastSentTick)
    {
        var order = ++_nextPendingOrder;
        _pending[update.ClientId] = new PendingUpdate(update, lastSentTick, order);
        _pendingOrder.Add((update.ClientId, order));
        if (_pendingOrder.Count > (2 * _pending.Count) + 64)
        {
            CompactPendingOrder();
        }
    }

    /// <summary>Drops stale entries from <see cref="_pendingOrder"/>, keeping the order of submission.</summary>
    private void CompactPendingOrder()
    {
        if (_pendingOrder.Count == _pending.Count)
        {
            return;
        }

        var kept = 0;
        for (var i = 0; i < _pendingOrder.Count; i++)
        {
            var entry = _pendingOrder[i];
            if (_pending.TryGetValue(entry.Client, out var pending) && pending.Order == entry.Order)
            {
                _pendingOrder[kept++] = entry;
            }
        }

        _pendingOrder.RemoveRange(kept, _pendingOrder.Count - kept);
    }

    /// <summary>Answers the local client waiting on <paramref name="client"/>, if its update is now settled.</summary>
    private void AnswerPending(ClientId client)
    {
        if (!_pending.TryGetValue(client, out var pending) || !_clientTable.TryGet(client, out var record))
        {
            return;
        }

        if (pending.Update.Timestamp == record.Timestamp)
        {
            _output.AddReply(new ClientReply(client, record.Timestamp, new SequenceNumber(record.Sequence), record.Status, record.Result));
            _pending.Remove(client);
        }
        else if (pending.Update.Timestamp < record.Timestamp)
        {
            _output.AddReply(new ClientReply(client, pending.Update.Timestamp, SequenceNumber.None, ReplyStatus.Superseded, default));
            _pending.Remove(client);
        }
    }

    private void ForwardAllPending()
    {
        CompactPendingOrder();
        foreach (var (client, _) in _pendingOrder)
        {
            ref var pending = ref CollectionsMarshal.GetValueRefOrNullRef(_pending, client);
            pending.LastSentTick = _tick;
            _forwards.Add(pending.Update);
        }
    }

    /// <summary>Sends this batch's forwarded updates to the leader, packed to fit messages.</summary>
    private void FlushForwards()
    {
        if (_forwards.Count == 0)
        {
            return;
        }

        if (_state == ReplicaState.RegularNonLeader)
        {
            var leader = LeaderOf(_lastInstalled);
            var start = 0;
            var bytes = MessageSizes.HeaderBytes;
            for (var i = 0; i < _forwards.Count; i++)
            {
                var size = MessageSizes.Update(_forwards[i]);
                if (i > start && bytes + size > _options.MaxMessageBytes)
                {
                    Send(leader, new ClientUpdateForward(_id, _forwards.GetRange(start, i - start).ToArray()));
                    start = i;
                    bytes = MessageSizes.HeaderBytes;
                }

                bytes += size;
            }

            Send(leader, new ClientUpdateForward(_id, _forwards.GetRange(start, _forwards.Count - start).ToArray()));
            Counters.UpdatesForwarded += _forwards.Count;
        }

        _forwards.Clear();
    }

    /// <summary>TR Fig. 12 B, Update_Timer expiry: the origin re-forwards each pending update it has not
    /// sent for a full period; a leader re-enqueues one that is neither queued nor bound.</summary>
    private void OnUpdateTimer(bool updateDue)
    {
        if (!updateDue)
        {
            return;
        }

        _updateTimer.Start();
        CompactPendingOrder();
        foreach (var (client, _) in _pendingOrder)
        {
            ref var pending = ref CollectionsMarshal.GetValueRefOrNullRef(_pending, client);
            if (_tick - pending.LastSentTick < _options.UpdateRetransmitTicks)
            {
                continue;
            }

            pending.LastSentTick = _tick;
            if (_state == ReplicaState.RegularNonLeader)
            {
                _forwards.Add(pending.Update);
            }
            else if (_state == ReplicaState.RegularLeader)
            {
                Enqueue(pending.Update);
            }
        }
    }

    /// <summary>The client table, by the slot of each client's last execution (for tests now, snapshots later).</summary>
    internal IEnumerable<(ClientId Client, ClientRecord Record)> ClientTableInExecutionOrder() => _clientTable.InExecutionOrder();

    /// <summary>How many clients Last_Enqueued[] holds (tests check it stays bounded).</summary>
    internal int LastEnqueuedCount => _lastEnqueued.Count;

    private bool IsExecuted(ClientUpdate update) => _clientTable.IsExecuted(update);

    /// <summary>Answers the local client waiting on <paramref name="update"/>, refused (expired, or out of order) at
    /// <paramref name="sequence"/>.</summary>
    private void AnswerPendingRefused(ClientUpdate update, long sequence, ReplyStatus status)
    {
        if (_pending.TryGetValue(update.ClientId, out var pending) && pending.Update.Timestamp == update.Timestamp)
        {
            _output.AddReply(new ClientReply(update.ClientId, update.Timestamp, new SequenceNumber(sequence), status, default));
            _pending.Remove(update.ClientId);
        }
    }

    /// <summary>Forgets Last_Enqueued[] of a client whose update at or above it has been settled, so that map holds
    /// only clients with an update queued or bound, not every client ever seen (the client table, or the expiry
    /// mark, refuses an old copy now).</summary>
    private void ForgetEnqueued(ClientUpdate update)
    {
        if (_lastEnqueued.TryGetValue(update.ClientId, out var enqueued) && enqueued <= update.Timestamp)
        {
            _lastEnqueued.Remove(update.ClientId);
        }
    }

    private bool AreValidUpdates(ClientUpdate[] updates, bool allowNoOp)
    {
        foreach (var update in updates)
        {
            if (update is null || update.Payload.Length > _options.MaxUpdateBytes
                || (update.IsNoOp ? !allowNoOp || update.Timestamp != 0 : update.ClientId.Value < 0 || update.Timestamp < 1)
                || (ClientSession.IsRegistration(update.ClientId) && (update.Timestamp != 1 || !update.Payload.IsEmpty)))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>A local update this replica is responsible for, and when it last forwarded it.</summary>
    private struct PendingUpdate(ClientUpdate update, long lastSentTick, long order)
    {
        public ClientUpdate Update { get; } = update;

        public long LastSentTick { get; set; } = lastSentTick;

        /// <summary>Which entry of <see cref="_pendingOrder"/> is this one's.</summary>
        public long Order { get; } = order;
    }
}
