using System.Globalization;
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
/// the same execute-or-not decision for a slot everywhere, monotonic views, and no acknowledged update lost.
/// </summary>
public sealed partial class SafetyChecker
{
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

    /// <summary>Creates a checker for a cluster of <paramref name="clusterSize"/> replicas.</summary>
    public SafetyChecker(int clusterSize)
    {
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

        _sequenceOf[(key.Client, key.Timestamp)] = sequence;
        if (_refusedAt.TryGetValue((key.Client, key.Timestamp), out var refused) && refused < sequence)
        {
            Fail(replica, $"expiry: c{key.Client}#{key.Timestamp} was refused as expired at {refused}, then executed at {sequence}");
        }

        AgreeExecuted(replica, sequence, executed: true);
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
