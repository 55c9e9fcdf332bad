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

/// <summary>Which family of configurations a seed draws from.</summary>
public enum SimulationProfile
{
    /// <summary>Every fault at random rates (the soak's and the CI batch's profile).</summary>
    Default,

    /// <summary>
    /// Lost disks aimed at view changes: a replica loses its disk right after it promised a view that a majority
    /// has not installed yet, or while it runs a leader election; the promised leader's other links are held back
    /// so it sits in its Prepare phase with a partial set of Prepare_OKs; up to ⌊(N−1)/2⌋ replicas are without
    /// intact state at once; long delay tails make messages sent before a wipe arrive after the restart; and most
    /// seeds run small flow-control windows (1–3 slots) with the leader's explicit Accept.
    /// </summary>
    LostDisk,

    /// <summary>
    /// The default profile's faults with read leases on at every replica (<see cref="PaxosOptions.ReadLeases"/>), the
    /// drift bound set to what the seed's skewed tick periods really are (0 when every replica ticks at the same rate), and
    /// hosts that tick by the clock: a paused replica gets the ticks it missed when it resumes, before anything else.
    /// </summary>
    ReadLeases,
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

    /// <summary>Probability that a replica crashes right after a batch of its acknowledged something — a reply to a
    /// client, an executed slot, an Accept (or a leader's Proposal that is its acceptance) — losing its unsynced
    /// writes: with the batch's fsync in flight when it has one, else once the batch is applied (its ordered slots,
    /// and a slow disk's batches in flight, are then unsynced). It restarts within 50 ms, while what it sent is in
    /// flight. Checked per such batch during the safety phase, at most once per
    /// <see cref="CrashAfterAcknowledgementGapMicros"/> and while no other replica is down from one; 0 for never.
    /// This is where a sync point the code skipped costs an update.</summary>
    public double CrashAfterAcknowledgementRate { get; init; }

    /// <summary>The shortest time between two crashes of <see cref="CrashAfterAcknowledgementRate"/>, in virtual
    /// microseconds.</summary>
    public long CrashAfterAcknowledgementGapMicros { get; init; } = 200_000;

    /// <summary>Probability that a replica that just sent a Prepare_OK for a view at most a bare majority has
    /// installed (so every promise counts) loses its disk, once per replica and view: for half of them within 2 ms,
    /// while the view is being prepared, for the others up to <see cref="LateWipeMaxMicros"/> later, when the view
    /// may have ordered with its help. 0 for never.</summary>
    public double WipeAfterPrepareOkRate { get; init; }

    /// <summary>Probability that a disk lost after a Prepare_OK takes a second promiser of the same view with it (its
    /// leader's excepted), when at most ⌊(N−1)/2⌋ are then without intact state. 0 for never.</summary>
    public double SecondWipeRate { get; init; }

    /// <summary>How many times slower the clocks of a leader kept with a minority by a partition run while the partition
    /// lasts (1: not slower), so that the minority still holds the old view when the majority has moved on.</summary>
    public long MinoritySlowdown { get; init; } = 1;

    /// <summary>The latest of the later lost disks of <see cref="WipeAfterPrepareOkRate"/>, in virtual microseconds.</summary>
    public long LateWipeMaxMicros { get; init; } = 200_000;

    /// <summary>Probability that a replica running a leader election (it sent a View_Change) loses its disk within
    /// 2 ms (once per replica and attempted view); 0 for never.</summary>
    public double WipeInElectionRate { get; init; }

    /// <summary>Probability that, when a leader sends its first Prepare for a view, every link between it and the
    /// replicas but one is held back (messages wait, both ways, retransmissions too) for up to
    /// <see cref="HoldMaxMicros"/>: the leader sits in its Prepare phase holding a partial set while the others carry
    /// on. 0 for never.</summary>
    public double HoldPrepareRate { get; init; }

    /// <summary>The longest hold of <see cref="HoldPrepareRate"/>, in virtual microseconds.</summary>
    public long HoldMaxMicros { get; init; } = 300_000;

    /// <summary>How soon a replica that lost its disk by <see cref="WipeAfterPrepareOkRate"/> or
    /// <see cref="WipeInElectionRate"/> restarts, at most, in virtual microseconds: short, so that messages sent
    /// to and about it before the wipe still arrive after the restart.</summary>
    public long TargetedRestartMaxMicros { get; init; } = 100_000;

    /// <summary>Probability that a replica crashes while a snapshot is made durable — its own (before the write is
    /// durable, or after it and before the replica is told), or one received whole from a peer (before it is durable,
    /// or once it is and before the replica installs it) — during the safety phase; 0 for never.</summary>
    public double SnapshotCrashRate { get; init; }
}

/// <summary>Everything one seed fixes: cluster, options, clients, faults and phases.</summary>
public sealed record SimulationConfig
{
    private static readonly int[] ClusterSizes = [1, 2, 3, 3, 4, 5, 5, 7];

    private static readonly int[] LostDiskClusterSizes = [3, 5, 5, 5, 5, 7];

    /// <summary>The seed the configuration was drawn from.</summary>
    public ulong Seed { get; init; }

    /// <summary>The profile the configuration was drawn from: a seed replays only with its profile.</summary>
    public SimulationProfile Profile { get; init; }

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

    /// <summary>Draws a configuration from a seed of the default profile.</summary>
    public static SimulationConfig FromSeed(ulong seed, bool longRun = false) => FromSeed(seed, longRun, SimulationProfile.Default);

    /// <summary>Draws a configuration from a seed of <paramref name="profile"/>; the same seed draws different
    /// configurations in different profiles.</summary>
    public static SimulationConfig FromSeed(ulong seed, bool longRun, SimulationProfile profile)
    {
        if (profile == SimulationProfile.LostDisk)
        {
            return LostDiskFromSeed(seed, longRun);
        }

        if (profile == SimulationProfile.ReadLeases)
        {
            var drawn = FromSeed(seed ^ 0x1EA5E5UL, longRun, SimulationProfile.Default);
            drawn.Options.ReadLeases = true;
            drawn.Options.MaxClockDrift = DriftOf(drawn.TickPeriodMicros);
            return drawn with { Seed = seed, Profile = SimulationProfile.ReadLeases };
        }

        var random = new SimulationRandom(seed);
        var clusterSize = ClusterSizes[random.Next(0, ClusterSizes.Length)];
        var options = DrawOptions(random);
        var ticks = DrawTickPeriods(random, clusterSize);
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
        DrawClientExpiry(random, options);
        faults = DrawSnapshots(random, options, faults);

        // Drawn last again: crashes aimed right after an acknowledgement, for half of the seeds.
        if (random.Chance(0.5))
        {
            faults = faults with
            {
                CrashAfterAcknowledgementRate = 0.01 + (random.NextDouble() * 0.09),
                CrashAfterAcknowledgementGapMicros = random.Next(50_000, 500_001),
            };
        }

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

    /// <summary>
    /// Draws a configuration of <see cref="SimulationProfile.LostDisk"/>: mostly five replicas (so that two may be
    /// without intact state at once), lost disks aimed at promises and elections, holds that keep a preparing leader
    /// on a partial set, long delay tails, and for three seeds in four windows of 1–3 slots with every leader
    /// sending its explicit Accept.
    /// </summary>
    private static SimulationConfig LostDiskFromSeed(ulong seed, bool longRun)
    {
        var random = new SimulationRandom(seed ^ 0x105D15CUL);
        var clusterSize = LostDiskClusterSizes[random.Next(0, LostDiskClusterSizes.Length)];
        var options = DrawOptions(random);
        var leaderSendsAccept = random.Next(0, 3) switch
        {
            0 => 0UL,
            1 => ulong.MaxValue,
            _ => random.NextUInt64(),
        };
        if (random.Chance(0.75))
        {
            var window = random.Next(1, 4);
            options.WindowSlots = window;
            options.MaxBatchUpdates = random.Next(1, window + 1);
            leaderSendsAccept = ulong.MaxValue;
        }

        var ticks = DrawTickPeriods(random, clusterSize);
        var minDelay = random.Next(20, 201);
        var faults = new FaultProfile
        {
            LossRate = random.Chance(0.4) ? 0 : random.NextDouble() * 0.15,
            DuplicateRate = random.Chance(0.5) ? 0 : random.NextDouble() * 0.2,
            MinDelayMicros = minDelay,
            MaxDelayMicros = minDelay + random.Next(0, 2001),
            TailRate = 0.02 + (random.NextDouble() * 0.13),
            TailMaxMicros = random.Next(50_000, 500_001),
            PartitionEveryMicros = random.Chance(0.2) ? 0 : random.Next(100_000, 600_001),
            CrashEveryMicros = random.Chance(0.5) ? 0 : random.Next(300_000, 3_000_001),
            PauseEveryMicros = random.Chance(0.5) ? 0 : random.Next(300_000, 3_000_001),
            LoseUnsyncedWrites = random.Chance(0.5),
            WipeEveryMicros = random.Chance(0.2) ? 0 : random.Next(200_000, 1_500_001),
            SyncDelayTicks = random.Chance(0.5) ? 0 : random.Next(1, 21),
            WipeAfterPrepareOkRate = 0.2 + (random.NextDouble() * 0.6),
            WipeInElectionRate = random.Chance(0.3) ? 0 : 0.02 + (random.NextDouble() * 0.18),
            HoldPrepareRate = random.Chance(0.2) ? 0 : 0.3 + (random.NextDouble() * 0.6),
            HoldMaxMicros = random.Next(20_000, 800_001),
            TargetedRestartMaxMicros = random.Next(2_000, 300_001),
            LateWipeMaxMicros = random.Next(20_000, 400_001),
            SecondWipeRate = random.Chance(0.3) ? 0 : 0.3 + (random.NextDouble() * 0.6),
            MinoritySlowdown = random.Chance(0.2) ? 1 : random.Next(2, 9),
        };

        var config = new SimulationConfig
        {
            Seed = seed,
            Profile = SimulationProfile.LostDisk,
            ClusterSize = clusterSize,
            ClientCount = random.Next(1, 9),
            Options = options,
            Faults = faults,
            TickPeriodMicros = ticks,
            SafetyPhaseMicros = longRun ? random.Next(20_000_000, 60_000_001) : random.Next(2_000_000, 5_000_001),
            Liveness = random.Chance(0.5) ? LivenessMode.HealAll : LivenessMode.StableMajority,
            MaxPayloadBytes = random.Next(0, 65),
            LeaderSendsAcceptMask = leaderSendsAccept,
        };

        DrawClientExpiry(random, options);
        return config with { Faults = DrawSnapshots(random, options, faults) };
    }

    /// <summary>Drawn after everything else in both profiles, so that the draws before it mean what they did: for a
    /// third of the seeds a client table of 1–64 slots, so that clients expire and late updates are refused.</summary>
    private static void DrawClientExpiry(SimulationRandom random, PaxosOptions options)
    {
        if (random.Chance(1.0 / 3))
        {
            options.ClientExpirySlots = random.Next(1, 65);
        }
    }

    /// <summary>Drawn after everything else in both profiles, so that the draws before it mean what they did: for half
    /// of the seeds, a snapshot every 3–50 slots keeping 0–20 slots behind it, so that lagging, crashed, partitioned and
    /// wiped replicas need state transfer; for half of those, crashes while a snapshot is made durable. The other
    /// seeds keep the default options (a snapshot every 100,000 slots, which no seed reaches).</summary>
    private static FaultProfile DrawSnapshots(SimulationRandom random, PaxosOptions options, FaultProfile faults)
    {
        if (!random.Chance(0.5))
        {
            return faults;
        }

        options.SnapshotIntervalSlots = random.Next(3, 51);
        options.RetainedSlots = random.Next(0, 21);
        return faults with { SnapshotCrashRate = random.Chance(0.5) ? 0 : 0.02 + (random.NextDouble() * 0.1) };
    }

    /// <summary>The options of a seed, within their valid ranges (the default profile's draw order).</summary>
    private static PaxosOptions DrawOptions(SimulationRandom random)
    {
        var progress = random.Next(20, 201);
        var maxBatch = random.Chance(0.3) ? 1 : random.Next(1, 65);
        int[] windows = [maxBatch, 8, 32, 128, 1024];
        return new PaxosOptions
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
    }

    /// <summary>The drift bound that tick periods from <c>min</c> to <c>max</c> meet exactly: every period lies within
    /// (1 ± ρ) of their midpoint when ρ = (max − min) / (max + min). Rounded up to whole millionths, as the option is.</summary>
    public static double DriftOf(IReadOnlyList<long> tickPeriods)
    {
        ArgumentNullException.ThrowIfNull(tickPeriods);
        var min = tickPeriods.Min();
        var max = tickPeriods.Max();
        return Math.Ceiling((max - min) * 1_000_000.0 / (max + min)) / 1_000_000.0;
    }

    /// <summary>Each replica's tick period: all 1 ms, or each skewed within 0.5–2 ms.</summary>
    private static long[] DrawTickPeriods(SimulationRandom random, int clusterSize)
    {
        var skewed = random.Chance(0.5);
        var ticks = new long[clusterSize];
        for (var i = 0; i < clusterSize; i++)
        {
            ticks[i] = skewed ? random.Next(500, 2001) : 1000;
        }

        return ticks;
    }

    /// <summary>A one-paragraph description, printed when a seed is replayed.</summary>
    public override string ToString()
    {
        var o = Options;
        var f = Faults;
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"seed {Seed}{(Profile == SimulationProfile.Default ? string.Empty : $" ({Profile} profile)")}: N={ClusterSize}, clients={ClientCount}, safety {SafetyPhaseMicros / 1000} ms then {Liveness}\n");
        text.Append(CultureInfo.InvariantCulture, $"  options: progress {o.ProgressTimeoutTicks}..{o.MaxProgressTimeoutTicks} ticks, heartbeat {o.LeaderHeartbeatTicks}, batch {o.MaxBatchUpdates}, window {o.WindowSlots}, message {o.MaxMessageBytes} B, pending {o.MaxPendingUpdates}, queue {o.MaxUpdateQueueLength}, catch-up {o.CatchUpSlotsPerRequest}/request, rejoin {o.AllowSameViewRejoin}, client expiry {o.ClientExpirySlots} slots\n");
        text.Append(CultureInfo.InvariantCulture, $"  faults: loss {f.LossRate:P0}, dup {f.DuplicateRate:P0}, delay {f.MinDelayMicros}..{f.MaxDelayMicros} us (tail {f.TailRate:P1} up to {f.TailMaxMicros} us), partition/{f.PartitionEveryMicros / 1000} ms, crash/{f.CrashEveryMicros / 1000} ms, pause/{f.PauseEveryMicros / 1000} ms, lost disk/{f.WipeEveryMicros / 1000} ms, damaged disk/{f.DamageEveryMicros / 1000} ms, crash mid-fsync {f.CrashBeforeSyncRate:P2}/batch, crash after an acknowledgement {f.CrashAfterAcknowledgementRate:P1}/batch (gap {f.CrashAfterAcknowledgementGapMicros / 1000} ms), fsync within {f.SyncDelayTicks} ticks, lose unsynced {f.LoseUnsyncedWrites}\n");
        if (Profile == SimulationProfile.ReadLeases)
        {
            text.Append(CultureInfo.InvariantCulture, $"  read leases on, drift bound {o.MaxClockDrift:P4}\n");
        }

        if (Profile == SimulationProfile.LostDisk)
        {
            text.Append(CultureInfo.InvariantCulture, $"  aimed lost disks: after a Prepare_OK {f.WipeAfterPrepareOkRate:P0} (late ones within {f.LateWipeMaxMicros / 1000} ms, a second promiser {f.SecondWipeRate:P0}), in an election {f.WipeInElectionRate:P0}/view, restart within {f.TargetedRestartMaxMicros / 1000} ms; hold a preparing leader's other links {f.HoldPrepareRate:P0}, up to {f.HoldMaxMicros / 1000} ms; a leader's minority {f.MinoritySlowdown}x slower\n");
        }

        if (o.SnapshotIntervalSlots != new PaxosOptions().SnapshotIntervalSlots)
        {
            text.Append(CultureInfo.InvariantCulture, $"  snapshots: every {o.SnapshotIntervalSlots} slots, {o.RetainedSlots} slots retained; crash while one is made durable {f.SnapshotCrashRate:P0}\n");
        }

        text.Append(CultureInfo.InvariantCulture, $"  leader sends Accept: {(LeaderSendsAcceptMask == 0 ? "none" : LeaderSendsAcceptMask == ulong.MaxValue ? "all" : $"mask {LeaderSendsAcceptMask & ((1UL << ClusterSize) - 1):x}")}\n");
        text.Append("  tick periods (us): ").AppendJoin(' ', TickPeriodMicros);
        return text.ToString();
    }
}
