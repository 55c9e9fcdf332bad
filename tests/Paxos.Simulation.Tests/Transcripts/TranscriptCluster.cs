using System.Globalization;
using System.Text;
using Paxos.Messages;
using Paxos.Protocol;

namespace Paxos.Simulation.Tests.Transcripts;

/// <summary>
/// A cluster driven by a script, in the style of etcd raft's <c>testdata/*.txt</c>: every message waits in
/// a queue until a command delivers or drops it, so a transcript fixes the exact interleaving of a trap.
/// It runs the real replicas through <see cref="ClusterHarness"/>, so the safety checker watches every step.
/// </summary>
internal sealed class TranscriptCluster : IClusterObserver
{
    private const int MaxDeliveries = 100_000;

    private readonly ClusterHarness _harness;
    private readonly List<Queued> _queue = [];
    private readonly List<Queued> _held = [];
    private readonly HashSet<string> _violations = [];
    private readonly bool[,] _cut;
    private readonly string[] _lastState;
    private readonly int[] _syncDelay;
    private readonly StringBuilder _output;
    private bool _quiet;

    public TranscriptCluster(int clusterSize, PaxosOptions options, StringBuilder output, bool recordViolations = false, bool showBatches = false)
    {
        _output = output;
        _cut = new bool[clusterSize, clusterSize];
        _lastState = new string[clusterSize];
        _syncDelay = new int[clusterSize];
        _harness = new ClusterHarness(options, clusterSize, _ => new RecordingExecutor(), seed: 1)
        {
            FixedSyncDelayTicks = id => _syncDelay[id.Value],
        };
        if (showBatches)
        {
            _harness.BatchTaken = PrintBatch;
            _harness.BatchDurable = PrintDurable;
        }

        _harness.Executed = (replica, update) => Say($"{replica}: execute {update.Sequence} c{update.ClientId}#{update.Timestamp}");
        if (recordViolations)
        {
            // Each distinct violation once: several checks (the executor's, the batch's) report the same one.
            _harness.Checker.OnViolation = violation =>
            {
                if (_violations.Add(violation))
                {
                    Say($"VIOLATION {violation}", always: true);
                }
            };
        }

        _harness.Start(this);
        ReportStateChanges();
    }

    public ClusterHarness Harness => _harness;

    public int ClusterSize => _harness.ClusterSize;

    public void OnSend(ReplicaId sender, ReplicaId destination, PaxosMessage message)
    {
        if (_cut[sender.Value, destination.Value])
        {
            Say($"{sender}->{destination} {message} (dropped: cut)");
            return;
        }

        _queue.Add(new Queued(sender, destination, message));
    }

    public void OnReply(ReplicaId replica, in ClientReply reply) =>
        Say(reply.Status == ReplyStatus.Executed
            ? $"{replica}: reply c{reply.ClientId}#{reply.Timestamp} executed at {reply.Sequence}"
            : reply.Status == ReplyStatus.Expired && reply.Sequence != SequenceNumber.None
                ? $"{replica}: reply c{reply.ClientId}#{reply.Timestamp} Expired at {reply.Sequence}"
                : $"{replica}: reply c{reply.ClientId}#{reply.Timestamp} {reply.Status}");

    public void Tick(IReadOnlyList<ReplicaId> replicas, int times)
    {
        for (var i = 0; i < times; i++)
        {
            foreach (var replica in replicas)
            {
                _harness.Tick(replica);
                ReportStateChanges();
            }
        }
    }

    /// <summary>Delivers queued messages that match, oldest first, including matching ones they cause,
    /// up to <paramref name="limit"/> deliveries.</summary>
    public void Deliver(Func<Queued, bool> match, int limit)
    {
        var delivered = 0;
        while (delivered < Math.Min(limit, MaxDeliveries))
        {
            var index = _queue.FindIndex(q => match(q));
            if (index < 0)
            {
                return;
            }

            var next = _queue[index];
            _queue.RemoveAt(index);
            delivered++;
            if (!_harness.Replicas[next.To.Value].IsUp)
            {
                Say($"{next.From}->{next.To} {next.Message} (dropped: down)");
                continue;
            }

            Say($"{next.From}->{next.To} {next.Message}");
            _harness.Deliver(next.To, next.Message);
            ReportStateChanges();
        }
    }

    /// <summary>Drops queued messages that match; <paramref name="quiet"/> prints only how many.</summary>
    public void Drop(Func<Queued, bool> match, int limit, bool quiet = false)
    {
        var dropped = _queue.Where(match).Take(limit).ToList();
        foreach (var queued in dropped)
        {
            if (!quiet)
            {
                Say($"{queued.From}->{queued.To} {queued.Message} (dropped)");
            }

            _queue.Remove(queued);
        }

        if (quiet)
        {
            Say(string.Create(CultureInfo.InvariantCulture, $"({dropped.Count} dropped)"));
        }
    }

    /// <summary>Takes queued messages that match out of the queue until <see cref="Release"/>: no delivery touches them.</summary>
    public void Hold(Func<Queued, bool> match)
    {
        foreach (var queued in _queue.Where(match).ToList())
        {
            Say($"{queued.From}->{queued.To} {queued.Message} (held)");
            _queue.Remove(queued);
            _held.Add(queued);
        }
    }

    /// <summary>Queues a second copy of every queued message that matches, at the end of the queue (a network that
    /// duplicates, or replays a message late).</summary>
    public void Duplicate(Func<Queued, bool> match)
    {
        foreach (var queued in _queue.Where(match).ToList())
        {
            Say($"{queued.From}->{queued.To} {queued.Message} (duplicated)");
            _queue.Add(queued);
        }
    }

    /// <summary>Puts held messages that match back at the end of the queue, in the order they were held.</summary>
    public void Release(Func<Queued, bool> match)
    {
        foreach (var queued in _held.Where(match).ToList())
        {
            Say($"{queued.From}->{queued.To} {queued.Message} (released)");
            _held.Remove(queued);
            _queue.Add(queued);
        }
    }

    public void Inject(ReplicaId destination, PaxosMessage message)
    {
        Say($"{message.Sender}->{destination} {message} (injected)");
        _harness.Deliver(destination, message);
        ReportStateChanges();
    }

    public void PrintQueue()
    {
        foreach (var queued in _queue)
        {
            Say($"{queued.From}->{queued.To} {queued.Message} (queued)");
        }

        foreach (var queued in _held)
        {
            Say($"{queued.From}->{queued.To} {queued.Message} (held)");
        }
    }

    public void Cut(int from, int to, bool cut) => _cut[from, to] = cut;

    public void Heal() => Array.Clear(_cut);

    /// <summary>From now on, each batch of <paramref name="replica"/> that must be synced becomes durable (and its
    /// messages leave) <paramref name="ticks"/> of its ticks after it is written; 0 makes new batches durable at once
    /// again, once those still in flight completed.</summary>
    public void SetSyncDelay(ReplicaId replica, int ticks)
    {
        _syncDelay[replica.Value] = ticks;
        Say(string.Create(CultureInfo.InvariantCulture, $"{replica}: fsync takes {ticks} ticks"));
    }

    public void Submit(ReplicaId replica, ClientUpdate update)
    {
        var status = _harness.Submit(replica, update);
        Say($"{replica}: submit {update}: {(status is null ? "down" : status.ToString())}");
        ReportStateChanges();
    }

    /// <summary>The replica crashes; with <paramref name="loseUnsyncedWrites"/>, writes whose fsync had not completed may
    /// be lost (a seeded choice keeps some prefix of them).</summary>
    public void Crash(ReplicaId replica, bool loseUnsyncedWrites = false)
    {
        _harness.Crash(replica, new SimulationRandom(1), loseUnsyncedWrites);
        Say($"{replica}: crashed{(loseUnsyncedWrites ? ", losing writes not yet synced" : string.Empty)}");
        _lastState[replica.Value] = "down";
    }

    /// <summary>The replica crashes and loses its disk; it restarts at once, rebuilding from its peers.</summary>
    public void Wipe(ReplicaId replica)
    {
        _harness.Wipe(replica);
        Say($"{replica}: crashed and lost its disk");
        _lastState[replica.Value] = "down";
        Restart(replica);
    }

    /// <summary>The replica crashes and one of its durable records is damaged; its next restart detects that.</summary>
    public void Damage(ReplicaId replica)
    {
        var damaged = _harness.CrashWithDamagedDisk(replica, new SimulationRandom(1), loseUnsyncedWrites: false);
        Say($"{replica}: crashed{(damaged ? " with a damaged durable record" : "; nothing durable to damage yet")}");
        _lastState[replica.Value] = "down";
    }

    public void Restart(ReplicaId replica)
    {
        Say($"{replica}: restarting");
        var detected = _harness.DamagedDisksDetected;
        _harness.Restart(replica);
        if (_harness.DamagedDisksDetected > detected)
        {
            Say($"{replica}: its storage reported damage: wiped, rebuilding from peers");
        }

        ReportStateChanges();
    }

    /// <summary>Rounds of one tick on every live replica followed by delivering everything.</summary>
    public void Run(int rounds, bool quiet)
    {
        var all = Enumerable.Range(0, ClusterSize).Select(i => new ReplicaId(i)).ToArray();
        _quiet = quiet;
        try
        {
            for (var i = 0; i < rounds; i++)
            {
                Tick(all, 1);
                Deliver(_ => true, int.MaxValue);
            }
        }
        finally
        {
            _quiet = false;
        }
    }

    public void PrintStatus(IReadOnlyList<ReplicaId> replicas)
    {
        foreach (var id in replicas)
        {
            var replica = _harness.Replicas[id.Value];
            if (replica.Replica is not { } paxos)
            {
                Say($"{id}: down");
                continue;
            }

            var s = paxos.Status;
            Say($"{id}: {s.State} view {s.LastInstalled}/{s.LastAttempted} leader {s.Leader} aru {s.LocalAru} pending {s.PendingUpdates} executed {((RecordingExecutor)replica.Executor!).Executed}{(s.IsRebuilding ? " rebuilding" : string.Empty)}");
        }
    }

    public void PrintCounter(ReplicaId id, string name)
    {
        var counters = _harness.Replicas[id.Value].Replica!.Counters;
        var value = name.StartsWith("dropped.", StringComparison.Ordinal)
            ? counters.Dropped(Enum.Parse<DropReason>(name["dropped.".Length..]))
            : (long)typeof(ReplicaCounters).GetProperty(name)!.GetValue(counters)!;
        Say($"{id}: {name} = {value}");
    }

    /// <summary>Prints a batch as its replica takes it, each line prefixed with the replica: what it sends at once,
    /// then what it persists and whether it syncs, then what it sends once that is durable. Only batches that persist
    /// something or send at once are printed: one that only sends (an Alive, a catch-up answer) would add a line for
    /// every message the transcript already shows, and says nothing about durability. A quiet <c>run</c> prints none.</summary>
    private void PrintBatch(ReplicaId replica, OutputBatch batch)
    {
        if (_quiet || !IsShown(batch))
        {
            return;
        }

        foreach (var line in batch.ToString().Split('\n'))
        {
            _output.Append(replica).Append(": ").Append(line).Append('\n');
        }
    }

    /// <summary>On a slow disk (<c>slowdisk</c>), the moment a printed batch becomes durable: only now do its
    /// "then send" messages leave.</summary>
    private void PrintDurable(ReplicaId replica, OutputBatch batch)
    {
        if (!_quiet && IsShown(batch))
        {
            Say(string.Create(CultureInfo.InvariantCulture, $"{replica}: batch {batch.Number} durable"));
        }
    }

    private static bool IsShown(OutputBatch batch) =>
        batch.RequiresSync || batch.OrderedSlots.Count > 0 || batch.ImmediateMessages.Count > 0;

    private void ReportStateChanges()
    {
        foreach (var replica in _harness.Replicas)
        {
            if (replica.Replica is not { } paxos)
            {
                continue;
            }

            var s = paxos.Status;
            var state = string.Create(CultureInfo.InvariantCulture, $"{s.State} view {s.LastInstalled}/{s.LastAttempted}");
            if (state != _lastState[replica.Id.Value])
            {
                _lastState[replica.Id.Value] = state;
                Say($"{replica.Id}: -> {state}", always: true);
            }
        }
    }

    private void Say(string line, bool always = false)
    {
        if (!_quiet || always || !line.Contains("->", StringComparison.Ordinal) || line.Contains(": ->", StringComparison.Ordinal))
        {
            _output.Append(line).Append('\n');
        }
    }

    internal readonly record struct Queued(ReplicaId From, ReplicaId To, PaxosMessage Message);
}
