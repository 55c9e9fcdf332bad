using System.Globalization;
using Paxos.Messages;
using Paxos.Protocol;

namespace Paxos.Simulation;

/// <summary>A broken safety or liveness property, found by a checker. The message says which and where.</summary>
public sealed class SimulationFailureException : Exception
{
    /// <summary>Creates the failure.</summary>
    public SimulationFailureException()
    {
    }

    /// <summary>Creates the failure.</summary>
    public SimulationFailureException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the failure.</summary>
    public SimulationFailureException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// The cluster-wide safety properties of PfSB (docs/testing.md, section 3), checked as events
/// happen: slot agreement, validity, gap-free in-order execution (every replica a prefix of one history),
/// exactly-once per (client id, timestamp) — an update refused because its client expired never executes after —
/// the same execute-or-not decision for a slot everywhere, monotonic views, and no acknowledged update lost. Two
/// oracles judge each step by what it relies on rather than by its outcome, so that a broken sync point is found
/// when it happens, not only in the rare run where a crash then costs an update
/// (<see cref="CheckSendDurable"/> and <see cref="CheckOrderedChosen"/>).
/// </summary>
public sealed partial class SafetyChecker
{
    private readonly Dictionary<long, SlotAcceptances> _acceptances = [];
    private readonly Dictionary<long, UpdateKey> _history = [];
    private readonly Dictionary<(long Client, long Timestamp), long> _sequenceOf = [];
    private readonly Dictionary<(long Client, long Timestamp), ulong> _submitted = [];
    private readonly Dictionary<(long Client, long Timestamp), long> _acknowledged = [];

    /// <summary>Whether the update ordered at each slot executed or was not applied (a duplicate, or refused because its
    /// client expired): every replica must decide the same.</summary>
    private readonly Dictionary<long, bool> _executedAt = [];

    /// <summary>Updates refused as expired at an execution, and the slot: they may have executed before, never after.</summary>
    private readonly Dictionary<(long Client, long Timestamp), long> _refusedAt = [];
    private readonly ReplicaTrack[] _replicas;

    /// <summary>Bit 62: set in every session id (2^62 | the slot of its registration).</summary>
    private const long SessionBit = 1L << 62;

    /// <summary>Each session's last timestamp executed anywhere: its next must be one more.</summary>
    private readonly Dictionary<long, long> _sessionLast = [];

    /// <summary>Where each registration nonce first registered a session, as its clients were told.</summary>
    private readonly Dictionary<long, long> _registeredAt = [];

    /// <summary>Registrations clients were told of before any replica reported their slot: slot → nonce.</summary>
    private readonly Dictionary<long, long> _registrationExpected = [];

    private readonly int _quorum;

    /// <summary>Creates a checker for a cluster of <paramref name="clusterSize"/> replicas.</summary>
    public SafetyChecker(int clusterSize)
    {
        _quorum = (clusterSize / 2) + 1;
        _replicas = new ReplicaTrack[clusterSize];
        for (var i = 0; i < clusterSize; i++)
        {
            _replicas[i] = new ReplicaTrack();
        }
    }

    /// <summary>The highest slot any replica executed.</summary>
    public long HighestExecuted { get; private set; }

    /// <summary>Updates clients saw acknowledged.</summary>
    public int AcknowledgedCount => _acknowledged.Count;

    /// <summary>When set, a broken property is reported here and checking goes on, instead of a
    /// <see cref="SimulationFailureException"/> being thrown: for scripted scenarios that record a known violation
    /// as their expected output. Null (the default): every violation throws.</summary>
    public Action<string>? OnViolation { get; set; }

    /// <summary>Records that a client submitted <paramref name="update"/>: only submitted updates may execute.</summary>
    public void OnSubmitted(ClientUpdate update)
    {
        ArgumentNullException.ThrowIfNull(update);
        var key = (update.ClientId.Value, update.Timestamp);
        var hash = Hash(update.Payload.Span);
        if (_submitted.TryGetValue(key, out var known) && known != hash)
        {
            throw new SimulationFailureException($"client {update.ClientId} reused timestamp {update.Timestamp} with another payload (a test bug)");
        }

        _submitted[key] = hash;
    }

    /// <summary>A replica (re)started; its executions start again from slot 1 in a fresh executor.</summary>
    public void OnIncarnation(ReplicaId replica)
    {
        var track = _replicas[replica.Value];
        track.LastExecuted = 0;
        track.LastOrdered = 0;
        track.ExecutedKeys.Clear();
        track.RestoredThrough = 0;
        track.HighestInstalled = ViewNumber.None;
        track.Incarnations++;
    }

    /// <summary>A replica lost its disk: its views start again from zero (the only way they may go down).</summary>
    public void OnWiped(ReplicaId replica)
    {
        _replicas[replica.Value].HighestInstalled = ViewNumber.None;
        _replicas[replica.Value].HighestDurable = ViewNumber.None;
    }

    /// <summary>A batch that installed <paramref name="view"/> is durable: no later incarnation may be below it.</summary>
    public void OnViewDurable(ReplicaId replica, ViewNumber view)
    {
        var track = _replicas[replica.Value];
        if (view > track.HighestDurable)
        {
            track.HighestDurable = view;
        }
    }

    /// <summary>A replica's executor ran <paramref name="update"/>.</summary>
    public void OnExecuted(ReplicaId replica, in OrderedUpdate update)
    {
        var track = _replicas[replica.Value];
        var sequence = update.Sequence.Value;
        var key = new UpdateKey(update.ClientId.Value, update.Timestamp, Hash(update.Payload.Span));
        if (sequence <= track.LastExecuted)
        {
            Fail(replica, $"executed slot {sequence} after slot {track.LastExecuted}: out of order");
        }

        track.LastExecuted = sequence;
        if (!_submitted.TryGetValue((key.Client, key.Timestamp), out var payload) || payload != key.PayloadHash)
        {
            Fail(replica, $"validity: executed c{key.Client}#{key.Timestamp} at {sequence}, which no client submitted");
        }

        if (!track.ExecutedKeys.Add((key.Client, key.Timestamp)))
        {
            Fail(replica, $"exactly-once: executed c{key.Client}#{key.Timestamp} twice (again at {sequence})");
        }

        Agree(replica, sequence, key);
        if (_sequenceOf.TryGetValue((key.Client, key.Timestamp), out var other) && other != sequence)
        {
            Fail(replica, $"exactly-once: c{key.Client}#{key.Timestamp} executed at {sequence} here and at {other} elsewhere");
        }

        if (ClientSession.IsSessionId(new ClientId(key.Client)) && !_sequenceOf.ContainsKey((key.Client, key.Timestamp)))
        {
            CheckSessionOrder(replica, key, sequence);
        }

        _sequenceOf[(key.Client, key.Timestamp)] = sequence;
        if (_refusedAt.TryGetValue((key.Client, key.Timestamp), out var refused) && refused < sequence)
        {
            Fail(replica, $"expiry: c{key.Client}#{key.Timestamp} was refused as expired at {refused}, then executed at {sequence}");
        }

        AgreeExecuted(replica, sequence, executed: true);
    }

    /// <summary>A session's update executes for the first time anywhere: its session was registered (slot 2^62 ^ id
    /// holds a registration), and its timestamp follows the session's last executed one (1 for the first).</summary>
    private void CheckSessionOrder(ReplicaId replica, UpdateKey key, long sequence)
    {
        var registeredAt = key.Client & ~SessionBit;
        // A slot no batch reported yet (its replica crashed before, and replayed it) counts when a client was told of it.
        if (_history.TryGetValue(registeredAt, out var registration)
            ? !ClientSession.IsRegistrationNonce(registration.Client)
            : !_registrationExpected.ContainsKey(registeredAt))
        {
            Fail(replica, $"sessions: c{key.Client}#{key.Timestamp} executed at {sequence}, but slot {registeredAt} holds {Describe(registeredAt)}, not a registration");
        }

        var last = _sessionLast.GetValueOrDefault(key.Client);
        if (key.Timestamp != last + 1)
        {
            Fail(replica, $"sessions: c{key.Client}#{key.Timestamp} executed at {sequence} after the session's #{last}: out of order");
        }

        _sessionLast[key.Client] = key.Timestamp;
    }

    /// <summary>A client was told its registration executed at <paramref name="sequence"/> and created
    /// <paramref name="session"/>: that must be 2^62 | the slot, the slot must hold the registration, and a nonce
    /// registers one session — a second only once the table forgot the nonce, <paramref name="expirySlots"/> slots on.</summary>
    public void OnRegistered(ClientId nonce, ClientId session, SequenceNumber sequence, long expirySlots)
    {
        var slot = sequence.Value;
        if (session.Value != (SessionBit | slot))
        {
            throw new SimulationFailureException($"sessions: nonce {nonce.Value} was told it registered session {session.Value} at {sequence}; that slot's session is {SessionBit | slot}");
        }

        // The reply leaves in the batch that reports the slot ordered, and the executor never saw it: the slot may
        // become known right after this.
        if (!_history.TryGetValue(slot, out var at))
        {
            _registrationExpected[slot] = nonce.Value;
        }
        else if (at.Client != nonce.Value || at.Timestamp != 1)
        {
            throw new SimulationFailureException($"sessions: nonce {nonce.Value} was told it registered at {sequence}, but that slot holds {Describe(slot)}");
        }

        if (_registeredAt.TryGetValue(nonce.Value, out var first) && first != slot && Math.Abs(slot - first) < expirySlots)
        {
            throw new SimulationFailureException($"sessions: nonce {nonce.Value} registered at {first} and again at {slot}, within {expirySlots} slots (exactly-once)");
        }

        _registeredAt.TryAdd(nonce.Value, slot);
    }

    /// <summary>A client was told its update was refused as expired at slot <paramref name="sequence"/>: that slot did
    /// not execute it, anywhere, and nothing may execute it later.</summary>
    public void OnRefused(ClientId client, long timestamp, SequenceNumber sequence)
    {
        var key = (client.Value, timestamp);
        if (_sequenceOf.TryGetValue(key, out var executed) && executed >= sequence.Value)
        {
            throw new SimulationFailureException($"expiry: c{client.Value}#{timestamp} was refused as expired at {sequence}, but executed at {executed}");
        }

        _refusedAt.TryAdd(key, sequence.Value);
        AgreeExecuted(ReplicaId.None, sequence.Value, executed: false);
    }

    /// <summary>A replica reported slot <paramref name="slot"/> ordered and executed (no-ops included), in an
    /// output batch; slots must follow one another without gaps.</summary>
    public void OnOrdered(ReplicaId replica, OrderedSlot slot, long recoveredAru)
    {
        var track = _replicas[replica.Value];
        var sequence = slot.Sequence.Value;
        if (track.LastOrdered == 0)
        {
            track.LastOrdered = recoveredAru;
        }

        // A snapshot restored: what it covers executed before (batches taken earlier may still report it); the slots
        // after it follow on from it.
        if (sequence > track.RestoredThrough)
        {
            track.LastOrdered = Math.Max(track.LastOrdered, track.RestoredThrough);
            if (sequence != track.LastOrdered + 1)
            {
                Fail(replica, $"gap-free execution: slot {sequence} executed after slot {track.LastOrdered}");
            }

            track.LastOrdered = sequence;
        }
        var update = slot.Update;
        Agree(replica, sequence, update.IsNoOp ? UpdateKey.NoOp : new UpdateKey(update.ClientId.Value, update.Timestamp, Hash(update.Payload.Span)));
        if (!update.IsNoOp)
        {
            // The executor ran before the batch was acknowledged: whether it ran this update here, at this slot.
            var key = (update.ClientId.Value, update.Timestamp);
            AgreeExecuted(replica, sequence, track.ExecutedKeys.Contains(key) && _sequenceOf.TryGetValue(key, out var at) && at == sequence);
        }
    }

    /// <summary>Execution agreement: a slot's update executes on every replica or on none (expiry is decided by the
    /// ordered history alone).</summary>
    private void AgreeExecuted(ReplicaId replica, long sequence, bool executed)
    {
        if (_executedAt.TryGetValue(sequence, out var known))
        {
            if (known != executed)
            {
                Fail(replica, $"execution agreement: slot {sequence}'s update {(executed ? "executed" : "did not execute")} here but {(known ? "executed" : "did not")} elsewhere");
            }

            return;
        }

        _executedAt[sequence] = executed;
    }

    /// <summary>A client received an answer: the update executed at <paramref name="sequence"/>.</summary>
    public void OnAcknowledged(ClientId client, long timestamp, SequenceNumber sequence)
    {
        var key = (client.Value, timestamp);
        if (!_history.TryGetValue(sequence.Value, out var at) || at.Client != client.Value || at.Timestamp != timestamp)
        {
            throw new SimulationFailureException($"client c{client.Value}#{timestamp} was told it executed at {sequence}, but that slot holds {Describe(sequence.Value)}");
        }

        _acknowledged[key] = sequence.Value;
        _highestAcknowledged = Math.Max(_highestAcknowledged, sequence.Value);
    }

    /// <summary>The highest slot of an update whose acknowledgement reached its client.</summary>
    private long _highestAcknowledged;

    /// <summary>Reads issued and not yet served: the highest acknowledged slot when each was issued.</summary>
    private readonly Dictionary<long, long> _readFloors = [];

    /// <summary>Reads served and checked.</summary>
    public long ReadsChecked { get; private set; }

    /// <summary>A client issues read <paramref name="read"/>: from now on, every update acknowledged so far must show in its answer.</summary>
    public void OnReadIssued(long read) => _readFloors[read] = _highestAcknowledged;

    /// <summary>Linearizability of reads: a read served from a state through slot <paramref name="executedThrough"/> (the last
    /// update its executor executed) must reflect every update acknowledged before it was issued.</summary>
    public void OnReadServed(ReplicaId replica, long read, long executedThrough)
    {
        if (!_readFloors.Remove(read, out var floor))
        {
            Fail(replica, string.Create(CultureInfo.InvariantCulture, $"served read r{read} twice, or one never issued"));
            return;
        }

        ReadsChecked++;
        if (executedThrough < floor)
        {
            Fail(replica, string.Create(CultureInfo.InvariantCulture,
                $"served read r{read} from a state through slot {executedThrough}, but the update at slot {floor} ({Describe(floor)}) was acknowledged before the read was issued (a stale read)"));
        }
    }

    /// <summary>Checks that a replica's installed view never went down: within an incarnation, and across restarts
    /// below one that reached its disk (an install whose write a crash lost was never promised to anyone: its
    /// Prepare_OK waits for the write).</summary>
    public void OnStatus(in ReplicaStatus status)
    {
        var track = _replicas[status.Id.Value];
        if (status.LastInstalled < track.HighestInstalled)
        {
            Fail(status.Id, $"monotonic views: Last_Installed went from {track.HighestInstalled} to {status.LastInstalled}");
        }

        if (status.LastInstalled < track.HighestDurable)
        {
            Fail(status.Id, $"monotonic views: Last_Installed is {status.LastInstalled}, below view {track.HighestDurable}, which was durable");
        }

        track.HighestInstalled = status.LastInstalled;
    }

    /// <summary>Checks that every acknowledged update is executed by a replica whose aru reached it.</summary>
    public void CheckAcknowledgedPresent(ReplicaId replica, long localAru)
    {
        foreach (var (key, sequence) in _acknowledged)
        {
            if (sequence <= localAru && !_replicas[replica.Value].ExecutedKeys.Contains(key))
            {
                Fail(replica, $"acknowledged update c{key.Client}#{key.Timestamp} (slot {sequence}) is missing below aru {localAru}");
            }
        }
    }

    /// <summary>
    /// Records that <paramref name="replica"/>'s acceptance of <paramref name="proposal"/> became durable: from now
    /// on it survives every crash short of a lost disk. A slot is chosen once a majority holds durable acceptances
    /// of one update in one view; that stays true whatever happens to those disks later, so these facts are never
    /// forgotten. Two updates accepted for one slot in one view break Paxos itself (a leader proposes once per view
    /// and slot).
    /// </summary>
    public void OnAcceptanceDurable(ReplicaId replica, Proposal proposal)
    {
        ArgumentNullException.ThrowIfNull(proposal);
        var view = proposal.View.Value;
        var updates = proposal.Updates;
        for (var i = 0; i < updates.Count; i++)
        {
            var sequence = proposal.FirstSequence.Value + i;
            if (!_acceptances.TryGetValue(sequence, out var slot))
            {
                slot = new SlotAcceptances();
                _acceptances[sequence] = slot;
            }

            var key = KeyOf(updates[i]);
            var index = slot.IndexOf(view);
            if (index < 0)
            {
                slot.Views.Add((view, key, 0));
                index = slot.Views.Count - 1;
            }
            else if (slot.Views[index].Key != key)
            {
                Fail(replica, $"one view, two updates: slot {sequence} was accepted with {slot.Views[index].Key} and with {key} in view {view}");
            }

            var entry = slot.Views[index];
            entry.Replicas |= 1UL << replica.Value;
            slot.Views[index] = entry;
            if (System.Numerics.BitOperations.PopCount(entry.Replicas) >= _quorum)
            {
                slot.Chosen = true;
            }
        }
    }

    /// <summary>
    /// The durability oracle (the sync points of <see cref="OutputBatch"/>; docs/protocol-notes.md, "The durability contract"): when
    /// <paramref name="sender"/> sends <paramref name="message"/>, what the message promises must already be durable
    /// in its <paramref name="storage"/>. An Accept, and a leader's Proposal that counts as its acceptance, need the
    /// accepted Proposal for each slot (or the slot chosen already: a replica that learned the order answers a
    /// Proposal for the whole range) and the view's install; a Prepare and a Prepare_OK need the view's install; a
    /// View_Change and a rebuild answer need the attempted view; a forwarded update needs the origin's pending
    /// record. An ordered slot a message reports (catch-up, a data list) must be chosen.
    /// </summary>
    public void CheckSendDurable(ReplicaId sender, PaxosMessage message, SimulatedStorage storage)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(storage);
        switch (message)
        {
            case Accept accept:
                CheckAcceptanceDurable(sender, "an Accept", accept.View, accept.FirstSequence.Value, accept.LastSequence.Value, storage);
                break;
            case Proposal proposal when proposal.ImpliesLeaderAcceptance:
                CheckAcceptanceDurable(sender, "a Proposal that is its acceptance", proposal.View, proposal.FirstSequence.Value, proposal.LastSequence.Value, storage);
                break;
            case Prepare prepare:
                CheckInstallDurable(sender, "a Prepare", prepare.View, storage);
                break;
            case PrepareOk promise:
                CheckInstallDurable(sender, "a Prepare_OK", promise.View, storage);
                foreach (var entry in promise.Entries)
                {
                    if (entry.IsOrdered)
                    {
                        CheckChosen(sender, "reported in a Prepare_OK as ordered", entry.Sequence.Value, entry.Update);
                    }
                }

                break;
            case ViewChange vote:
                CheckAttemptDurable(sender, "a View_Change", vote.Attempted, storage);
                break;
            case RebuildReply reply:
                CheckAttemptDurable(sender, "a rebuild answer", reply.LastAttempted, storage);
                break;
            case ClientUpdateForward forward:
                foreach (var update in forward.Updates)
                {
                    if (update.Origin == sender && !storage.HasDurablePending(update.ClientId, update.Timestamp))
                    {
                        Fail(sender, $"durability: forwarded {update} before its pending record was durable");
                    }
                }

                break;
            case GloballyOrderedUpdate ordered:
                for (var i = 0; i < ordered.Updates.Count; i++)
                {
                    CheckChosen(sender, "sent as ordered", ordered.FirstSequence.Value + i, ordered.Updates[i]);
                }

                break;
            default:
                break;
        }
    }

    /// <summary>
    /// The ordering oracle, for a batch as <paramref name="replica"/> hands it over and before any of it is applied:
    /// every slot it executed (and so every reply it gives) must be chosen — a majority holds durable acceptances of
    /// that update in one view. A replica that counts an acceptance a crash could still erase (its own, before its
    /// batch is durable) executes too early, and its client may hear of an update the cluster can still lose.
    /// </summary>
    public void CheckOrderedChosen(ReplicaId replica, OutputBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        foreach (var slot in batch.OrderedSlots)
        {
            CheckChosen(replica, "executed", slot.Sequence.Value, slot.Update);
        }
    }

    private void CheckAcceptanceDurable(ReplicaId sender, string what, ViewNumber view, long first, long last, SimulatedStorage storage)
    {
        CheckInstallDurable(sender, what, view, storage);
        for (var sequence = first; sequence <= last; sequence++)
        {
            if (!storage.HasDurableAcceptance(view, new SequenceNumber(sequence))
                && !(_acceptances.TryGetValue(sequence, out var slot) && slot.Chosen))
            {
                Fail(sender, $"durability: sent {what} for slot {sequence} in view {view} before its acceptance was durable");
            }
        }
    }

    private void CheckInstallDurable(ReplicaId sender, string what, ViewNumber view, SimulatedStorage storage)
    {
        if (storage.DurableInstalledView < view)
        {
            Fail(sender, $"durability: sent {what} of view {view} with only view {storage.DurableInstalledView} durably installed");
        }
    }

    private void CheckAttemptDurable(ReplicaId sender, string what, ViewNumber view, SimulatedStorage storage)
    {
        if (storage.DurableAttemptedView < view)
        {
            Fail(sender, $"durability: sent {what} for view {view} with only view {storage.DurableAttemptedView} durably attempted");
        }
    }

    private void CheckChosen(ReplicaId replica, string what, long sequence, ClientUpdate update)
    {
        var key = KeyOf(update);
        if (_acceptances.TryGetValue(sequence, out var slot))
        {
            foreach (var (_, accepted, replicas) in slot.Views)
            {
                if (accepted == key && System.Numerics.BitOperations.PopCount(replicas) >= _quorum)
                {
                    return;
                }
            }
        }

        Fail(replica, $"ordering: {what} {key} at slot {sequence} before a majority held it durably accepted in one view ({DescribeAcceptances(slot)})");
    }

    private static string DescribeAcceptances(SlotAcceptances? slot)
    {
        if (slot is null || slot.Views.Count == 0)
        {
            return "no durable acceptance";
        }

        return string.Join("; ", slot.Views.Select(v => string.Create(CultureInfo.InvariantCulture, $"view {v.View}: {v.Key} by {System.Numerics.BitOperations.PopCount(v.Replicas)}")));
    }

    private static UpdateKey KeyOf(ClientUpdate update) =>
        update.IsNoOp ? UpdateKey.NoOp : new UpdateKey(update.ClientId.Value, update.Timestamp, Hash(update.Payload.Span));

    /// <summary>The slot of every acknowledged update.</summary>
    public IEnumerable<long> AcknowledgedSlots => _acknowledged.Values;

    private void Agree(ReplicaId replica, long sequence, UpdateKey key)
    {
        if (_history.TryGetValue(sequence, out var known))
        {
            if (known != key)
            {
                Fail(replica, $"slot agreement: slot {sequence} holds {key} here but {known} elsewhere");
            }

            return;
        }

        _history[sequence] = key;
        if (_registrationExpected.Remove(sequence, out var nonce) && (key.Client != nonce || key.Timestamp != 1))
        {
            Fail(replica, $"sessions: nonce {nonce} was told it registered at {sequence}, but that slot holds {key}");
        }

        if (sequence > HighestExecuted)
        {
            HighestExecuted = sequence;
        }
    }

    private string Describe(long sequence) =>
        _history.TryGetValue(sequence, out var key) ? key.ToString() : "nothing yet";

    private void Fail(ReplicaId replica, string message)
    {
        var text = string.Create(CultureInfo.InvariantCulture, $"replica {replica}: {message}");
        if (OnViolation is { } report)
        {
            report(text);
            return;
        }

        throw new SimulationFailureException(text);
    }

    private static ulong Hash(ReadOnlySpan<byte> bytes)
    {
        var hash = 0xCBF29CE484222325UL;
        foreach (var b in bytes)
        {
            hash = (hash ^ b) * 0x100000001B3UL;
        }

        return hash;
    }

    private readonly record struct UpdateKey(long Client, long Timestamp, ulong PayloadHash)
    {
        public static UpdateKey NoOp => new(0, 0, 0);

        public override string ToString() => Client == 0 ? "noop" : string.Create(CultureInfo.InvariantCulture, $"c{Client}#{Timestamp}");
    }

    /// <summary>The durable acceptances of one slot, by view: the update and which replicas hold it.</summary>
    private sealed class SlotAcceptances
    {
        public List<(long View, UpdateKey Key, ulong Replicas)> Views { get; } = new(1);

        /// <summary>Whether a majority holds one view's update: the slot is chosen.</summary>
        public bool Chosen { get; set; }

        public int IndexOf(long view)
        {
            for (var i = 0; i < Views.Count; i++)
            {
                if (Views[i].View == view)
                {
                    return i;
                }
            }

            return -1;
        }
    }

    private sealed class ReplicaTrack
    {
        public long LastExecuted { get; set; }

        public long LastOrdered { get; set; }

        /// <summary>The sequence number of the last snapshot this incarnation restored (0 when none).</summary>
        public long RestoredThrough { get; set; }

        /// <summary>The highest Last_Installed of this incarnation.</summary>
        public ViewNumber HighestInstalled { get; set; }

        /// <summary>The highest Last_Installed that reached the disk, across incarnations.</summary>
        public ViewNumber HighestDurable { get; set; }

        public int Incarnations { get; set; }

        public HashSet<(long Client, long Timestamp)> ExecutedKeys { get; } = [];
    }
}
