using System.Globalization;
using System.Text;

namespace Paxos.Simulation;

/// <summary>How the liveness phase treats the cluster.</summary>
public enum LivenessMode
{
    /// <summary>Everything heals and every replica restarts.</summary>
    HealAll,

    /// <summary>A majority restarts and stays connected; the rest stays down for good.</summary>
    StableMajority,
}

/// <summary>The faults of one simulation run.</summary>
public sealed record FaultProfile
{
    /// <summary>Probability that a message is lost.</summary>
    public double LossRate { get; init; }

    /// <summary>Probability that a message is delivered twice.</summary>
    public double DuplicateRate { get; init; }

    /// <summary>Shortest network delay, in virtual microseconds.</summary>
    public long MinDelayMicros { get; init; } = 50;

    /// <summary>Longest usual network delay, in virtual microseconds.</summary>
    public long MaxDelayMicros { get; init; } = 500;

    /// <summary>Probability that a message takes the long tail (reordering it far behind later ones).</summary>
    public double TailRate { get; init; }

    /// <summary>Longest tail delay, in virtual microseconds.</summary>
    public long TailMaxMicros { get; init; } = 20_000;

    /// <summary>Mean time between partition changes, in virtual microseconds; 0 for none.</summary>
    public long PartitionEveryMicros { get; init; }

    /// <summary>Mean time between crashes, in virtual microseconds; 0 for none.</summary>
    public long CrashEveryMicros { get; init; }

    /// <summary>Mean time between pauses, in virtual microseconds; 0 for none.</summary>
    public long PauseEveryMicros { get; init; }

    /// <summary>Whether a crash may lose writes that were not yet synced.</summary>
    public bool LoseUnsyncedWrites { get; init; }

    /// <summary>Mean time between lost disks (a replica crashes, its storage is wiped, and it restarts
    /// rebuilding from its peers), in virtual microseconds; 0 for none. Only a minority is ever without intact
    /// state at once.</summary>
    public long WipeEveryMicros { get; init; }

    /// <summary>Mean time between damaged disks (a replica crashes and one of its durable records fails its
    /// checksum; its restart detects the damage, and the replica is wiped and rebuilds from its peers, as an operator
    /// would do), in virtual microseconds; 0 for none. Counted with lost disks: only a minority is ever without
    /// intact state at once.</summary>
    public long DamageEveryMicros { get; init; }

    /// <summary>A slow disk: each fsync completes 0 to this many ticks of its replica after the write, while the
    /// replica goes on (pipelined, as <see cref="PaxosNode"/> runs); 0 for fsyncs that complete at once.</summary>
    public int SyncDelayTicks { get; init; }

    /// <summary>Probability that a replica dies while a batch's fsync is in flight, after the batch's immediate
    /// messages and replies left and before anything else did (kill -9 mid-fsync); checked for every batch that
    /// must be synced, during the safety phase. 0 for never.</summary>
    public double CrashBeforeSyncRate { get; init; }
}

/// <summary>Everything one seed fixes: cluster, options, clients, faults and phases.</summary>
public sealed record SimulationConfig
{
    private static readonly int[] ClusterSizes = [1, 2, 3, 3, 4, 5, 5, 7];

    /// <summary>The seed the configuration was drawn from.</summary>
    public ulong Seed { get; init; }

    /// <summary>N.</summary>
    public int ClusterSize { get; init; } = 3;

    /// <summary>How many clients write.</summary>
    public int ClientCount { get; init; } = 2;

    /// <summary>Options for every replica (id and size are set per replica).</summary>
    public PaxosOptions Options { get; init; } = new();

    /// <summary>The faults of the safety phase.</summary>
    public FaultProfile Faults { get; init; } = new();

    /// <summary>Each replica's tick period, in virtual microseconds (skewed per replica).</summary>
    public IReadOnlyList<long> TickPeriodMicros { get; init; } = [1000, 1000, 1000];

    /// <summary>How long the safety phase lasts, in virtual microseconds.</summary>
    public long SafetyPhaseMicros { get; init; } = 2_000_000;

    /// <summary>What the liveness phase heals.</summary>
    public LivenessMode Liveness { get; init; }

    /// <summary>Which replicas send Proposals before their own write and acknowledge them with an explicit
    /// Accept (<see cref="PaxosOptions.LeaderSendsAccept"/>), one bit per replica: none, all, or a mix.</summary>
    public ulong LeaderSendsAcceptMask { get; init; }

    /// <summary>The longest payload a client writes.</summary>
    public int MaxPayloadBytes { get; init; } = 48;

    /// <summary>Draws a configuration from a seed (docs/testing.md, section 3).</summary>
    public static SimulationConfig FromSeed(ulong seed, bool longRun = false)
    {
        var random = new SimulationRandom(seed);
        var clusterSize = ClusterSizes[random.Next(0, ClusterSizes.Length)];
        var progress = random.Next(20, 201);
        var maxBatch = random.Chance(0.3) ? 1 : random.Next(1, 65);
        int[] windows = [maxBatch, 8, 32, 128, 1024];
        var options = new PaxosOptions
        {
            ProgressTimeoutTicks = progress,
            MaxProgressTimeoutTicks = progress << random.Next(1, 6),
            LeaderHeartbeatTicks = Math.Max(1, random.Next(progress / 10, Math.Max((progress / 10) + 1, progress / 3))),
            ViewChangeRetransmitTicks = random.Next(5, 51),
            VcProofIntervalTicks = random.Next(5, 101),
            PrepareRetransmitTicks = random.Next(2, 31),
            ProposalRetransmitTicks = random.Next(2, 31),
            UpdateRetransmitTicks = random.Next(10, 101),
            AliveIntervalTicks = random.Next(5, 51),
            CatchUpDelayTicks = random.Next(0, 11),
            CatchUpTimeoutTicks = random.Next(5, 51),
            MaxBatchUpdates = maxBatch,
            WindowSlots = Math.Max(maxBatch, windows[random.Next(0, windows.Length)]),
            MaxMessageBytes = random.Next(512, 2001),
            MaxUpdateBytes = 100,
            MaxUpdateQueueLength = random.Next(4, 1001),
            MaxPendingUpdates = random.Next(1, 17),
            CatchUpSlotsPerRequest = random.Next(1, 257),
            AllowSameViewRejoin = random.Chance(0.8),
        };

        var skewed = random.Chance(0.5);
        var ticks = new long[clusterSize];
        for (var i = 0; i < clusterSize; i++)
        {
            ticks[i] = skewed ? random.Next(500, 2001) : 1000;
        }

        var minDelay = random.Next(20, 201);
        var faults = new FaultProfile
        {
            LossRate = random.Chance(0.2) ? 0 : random.NextDouble() * 0.3,
            DuplicateRate = random.Chance(0.3) ? 0 : random.NextDouble() * 0.5,
            MinDelayMicros = minDelay,
            MaxDelayMicros = minDelay + random.Next(0, 2001),
            TailRate = random.Chance(0.5) ? 0 : random.NextDouble() * 0.1,
            TailMaxMicros = random.Next(1000, 50_001),
            PartitionEveryMicros = random.Chance(0.25) ? 0 : random.Next(100_000, 1_000_001),
            CrashEveryMicros = random.Chance(0.3) ? 0 : random.Next(200_000, 2_000_001),
            PauseEveryMicros = random.Chance(0.5) ? 0 : random.Next(200_000, 2_000_001),
            LoseUnsyncedWrites = random.Chance(0.5),
        };

        // Drawn last, so that the draws above mean the same for a seed as before lost disks were simulated.
        var clientCount = random.Next(1, 9);
        var safetyMicros = longRun ? random.Next(20_000_000, 60_000_001) : random.Next(1_000_000, 4_000_001);
        var liveness = random.Chance(0.5) ? LivenessMode.HealAll : LivenessMode.StableMajority;
        var maxPayload = random.Next(0, 65);
        faults = faults with { WipeEveryMicros = random.Chance(0.6) ? 0 : random.Next(300_000, 3_000_001) };
        var leaderSendsAccept = random.Next(0, 3) switch
        {
            0 => 0UL,
            1 => ulong.MaxValue,
            _ => random.NextUInt64(),
        };

        // Drawn after everything else, so that the draws above mean the same for a seed as before damaged disks
        // were simulated (and a seed without them runs as it did).
        faults = faults with { DamageEveryMicros = random.Chance(0.7) ? 0 : random.Next(300_000, 3_000_001) };
        faults = faults with { CrashBeforeSyncRate = random.Chance(0.7) ? 0 : 0.001 + (random.NextDouble() * 0.02) };

        // Drawn last again, for the same reason: a slow disk for half of the seeds, from one tick to beyond the
        // Proposal's retransmission period.
        faults = faults with { SyncDelayTicks = random.Chance(0.5) ? 0 : random.Next(1, 41) };

        return new SimulationConfig
        {
            Seed = seed,
            ClusterSize = clusterSize,
            ClientCount = clientCount,
            Options = options,
            Faults = faults,
            TickPeriodMicros = ticks,
            SafetyPhaseMicros = safetyMicros,
            Liveness = liveness,
            MaxPayloadBytes = maxPayload,
            LeaderSendsAcceptMask = leaderSendsAccept,
        };
    }

    /// <summary>A one-paragraph description, printed when a seed is replayed.</summary>
    public override string ToString()
    {
        var o = Options;
        var f = Faults;
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"seed {Seed}: N={ClusterSize}, clients={ClientCount}, safety {SafetyPhaseMicros / 1000} ms then {Liveness}\n");
        text.Append(CultureInfo.InvariantCulture, $"  options: progress {o.ProgressTimeoutTicks}..{o.MaxProgressTimeoutTicks} ticks, heartbeat {o.LeaderHeartbeatTicks}, batch {o.MaxBatchUpdates}, window {o.WindowSlots}, message {o.MaxMessageBytes} B, pending {o.MaxPendingUpdates}, queue {o.MaxUpdateQueueLength}, catch-up {o.CatchUpSlotsPerRequest}/request, rejoin {o.AllowSameViewRejoin}\n");
        text.Append(CultureInfo.InvariantCulture, $"  faults: loss {f.LossRate:P0}, dup {f.DuplicateRate:P0}, delay {f.MinDelayMicros}..{f.MaxDelayMicros} us (tail {f.TailRate:P1} up to {f.TailMaxMicros} us), partition/{f.PartitionEveryMicros / 1000} ms, crash/{f.CrashEveryMicros / 1000} ms, pause/{f.PauseEveryMicros / 1000} ms, lost disk/{f.WipeEveryMicros / 1000} ms, damaged disk/{f.DamageEveryMicros / 1000} ms, crash mid-fsync {f.CrashBeforeSyncRate:P2}/batch, fsync within {f.SyncDelayTicks} ticks, lose unsynced {f.LoseUnsyncedWrites}\n");
        text.Append(CultureInfo.InvariantCulture, $"  leader sends Accept: {(LeaderSendsAcceptMask == 0 ? "none" : LeaderSendsAcceptMask == ulong.MaxValue ? "all" : $"mask {LeaderSendsAcceptMask & ((1UL << ClusterSize) - 1):x}")}\n");
        text.Append("  tick periods (us): ").AppendJoin(' ', TickPeriodMicros);
        return text.ToString();
    }
}
