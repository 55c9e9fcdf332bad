using System.Globalization;
using Paxos.Sample;
using Paxos.Sample.Protocol;
using static System.FormattableString;

namespace Paxos.Benchmarks;

/// <summary>A scripted event of a soak run. <see cref="Replica"/> is a replica's id, or null for "whichever replica is
/// the leader at <see cref="At"/>".</summary>
/// <param name="Until">A down window's end, when the replica is started again; equal to <see cref="At"/> for a
/// restart (killed and started again at once).</param>
internal sealed record SoakEvent(bool IsDown, int? Replica, double At, double Until)
{
    public string Who => Replica is { } id ? Invariant($"r{id}") : "the leader";

    public override string ToString() => IsDown ? Invariant($"{Who} down {At:0.#}-{Until:0.#} s") : Invariant($"{Who} restart at {At:0.#} s");
}

/// <summary>What the soak runs: <c>--soak [--seconds 600] [--writers 64] [--durable | --data-dir ROOT] [--out DIR]
/// [--interval-ms 1000] [--restart K@T,...] [--down K@T1-T2,...] [--chunk-seconds 5] [--max-rss-mib M]
/// [--max-disk-mib D] [--keep-data]</c> and the replica options of <c>--udp</c> (<c>--payload-bytes</c>,
/// <c>--replicas</c>, <c>--host-dll</c>, <c>--max-datagram-bytes</c>, <c>--tick-ms</c>, <c>--leader-sends-accept</c>,
/// <c>--inline-completions</c>).</summary>
/// <param name="Replica">The replica processes' options, as the UDP load generator gives them (its writer list,
/// runs and warm-up are not used).</param>
/// <param name="ChunkSeconds">The writers run as a sequence of Load requests of this length (a request's writers are
/// fresh clients; one that fails stops until the next request).</param>
/// <param name="MaxRssMiB">A guard: the run stops early when a replica's resident memory passes it.</param>
/// <param name="MaxDiskMiB">A guard: the run stops early when a replica's data directory passes it.</param>
internal sealed record SoakOptions(
    int Seconds,
    int Writers,
    int IntervalMillis,
    int ChunkSeconds,
    string OutputDirectory,
    IReadOnlyList<SoakEvent> Events,
    long MaxRssMiB,
    long MaxDiskMiB,
    bool KeepData,
    UdpLoadOptions Replica)
{
    public static readonly string[] Flags = ["durable", "leader-sends-accept", "inline-completions", "keep-data"];

    public static readonly string[] Names =
        ["seconds", "writers", "interval-ms", "chunk-seconds", "out", "restart", "down", "max-rss-mib", "max-disk-mib", "payload-bytes", "replicas", "host-dll", "max-datagram-bytes", "tick-ms", "data-dir"];

    public bool Durable => Replica.Durable;

    public static SoakOptions From(CommandOptions line)
    {
        var seconds = line.Int("seconds", 600, 10, 86_400);
        var replicas = line.Int("replicas", 3, 1, 7);
        var dataRoot = line.Text("data-dir") is { } root ? Path.GetFullPath(root) : line.Has("durable") ? Path.GetTempPath() : null;
        if (line.Has("keep-data") && dataRoot is null)
        {
            throw new UsageException("--keep-data keeps the replicas' data directories; add --durable.");
        }

        var events = new List<SoakEvent>();
        events.AddRange(ParseEvents(line.Text("restart"), "restart", isDown: false, replicas, seconds));
        events.AddRange(ParseEvents(line.Text("down"), "down", isDown: true, replicas, seconds));
        CheckMajority(events, replicas);

        var memoryGuard = line.Long("max-rss-mib", DefaultMemoryGuardMiB(replicas), 64, 1L << 30);
        var diskGuard = line.Long("max-disk-mib", DefaultDiskGuardMiB(dataRoot, replicas), 64, 1L << 40);
        var output = line.Text("out") is { } directory ? Path.GetFullPath(directory) : DefaultOutput(dataRoot is not null);
        var udp = new UdpLoadOptions(
            Writers: [],
            Runs: 1,
            Seconds: seconds,
            WarmupSeconds: 0,
            PayloadBytes: line.Int("payload-bytes", 64, LoadRequest.MinPayloadBytes, 1024),
            Replicas: replicas,
            HostDll: line.Text("host-dll"),
            MaxDatagramBytes: line.Has("max-datagram-bytes") ? line.Int("max-datagram-bytes", 0, 576, 65_507) : null,
            TickMillis: line.Has("tick-ms") ? line.Int("tick-ms", 0, 1, 1000) : null,
            DataRoot: dataRoot,
            LeaderSendsAccept: line.Has("leader-sends-accept"),
            InlineCompletions: line.Has("inline-completions"),
            Floor: false);
        return new SoakOptions(
            seconds,
            line.Int("writers", 64, 1, LoadRequest.MaxWriters),
            line.Int("interval-ms", 1000, 100, 60_000),
            line.Int("chunk-seconds", 5, 1, LoadRequest.MaxMillis / 1000),
            output,
            [.. events.OrderBy(e => e.At)],
            memoryGuard,
            diskGuard,
            line.Has("keep-data"),
            udp);
    }

    /// <summary><c>K@T</c> (restart) or <c>K@T1-T2</c> (down), comma-separated; K is a replica id or <c>leader</c>, the
    /// times are seconds since the load started.</summary>
    public static List<SoakEvent> ParseEvents(string? text, string option, bool isDown, int replicas, int seconds)
    {
        var events = new List<SoakEvent>();
        if (text is null)
        {
            return events;
        }

        var shape = isDown ? "K@T1-T2 (replica K down from T1 to T2 s)" : "K@T (restart replica K at T s)";
        foreach (var item in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var at = item.IndexOf('@', StringComparison.Ordinal);
            if (at <= 0)
            {
                throw new UsageException($"--{option} takes {shape}, comma-separated, with K a replica id or 'leader'; got '{item}'.");
            }

            var who = item[..at];
            int? replica = who == "leader" ? null
                : int.TryParse(who, NumberStyles.None, CultureInfo.InvariantCulture, out var id) && id < replicas ? id
                : throw new UsageException(Invariant($"--{option}: '{who}' in '{item}' is not a replica: give an id from 0 to {replicas - 1} or 'leader'."));
            var times = item[(at + 1)..].Split('-');
            if (times.Length != (isDown ? 2 : 1))
            {
                throw new UsageException($"--{option} takes {shape}; got '{item}'.");
            }

            var start = ParseSeconds(times[0], option, item);
            var end = isDown ? ParseSeconds(times[1], option, item) : start;
            if (start <= 0 || end >= seconds)
            {
                throw new UsageException(Invariant($"--{option}: '{item}' must lie inside the run, after 0 and before --seconds ({seconds})."));
            }

            if (isDown && end <= start)
            {
                throw new UsageException($"--{option}: '{item}' ends before it starts.");
            }

            events.Add(new SoakEvent(isDown, replica, start, end));
        }

        if (events.Count > 0 && replicas < 3)
        {
            throw new UsageException($"--{option} needs at least 3 replicas: with fewer, no majority survives a replica's loss.");
        }

        return events;
    }

    /// <summary>At no moment may more than a minority be down: a down window counts from its start to its end, a restart
    /// at its instant; two events of the same replica may not overlap either.</summary>
    private static void CheckMajority(List<SoakEvent> events, int replicas)
    {
        var minority = (replicas - 1) / 2;
        foreach (var e in events)
        {
            var overlapping = events.Where(o => o.At <= e.Until && e.At <= o.Until).ToList();
            if (overlapping.Count > minority)
            {
                throw new UsageException(Invariant($"The events {string.Join(", ", overlapping)} overlap: {overlapping.Count} replicas would be down at once, and a cluster of {replicas} keeps a majority only with at most {minority} down."));
            }
        }
    }

    private static double ParseSeconds(string text, string option, string item) =>
        double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new UsageException($"--{option}: '{text}' in '{item}' is not a number of seconds.");

    /// <summary>Half the memory available now, shared by the replicas: a replica that keeps its whole history in
    /// memory would otherwise take the machine down with it.</summary>
    private static long DefaultMemoryGuardMiB(int replicas)
    {
        var available = MemAvailableMiB() ?? 8192;
        return Math.Max(256, available / 2 / replicas);
    }

    /// <summary>Half the free space of the data root, shared by the replicas (unbounded in memory).</summary>
    private static long DefaultDiskGuardMiB(string? dataRoot, int replicas)
    {
        if (dataRoot is null)
        {
            return 1L << 40;
        }

        Directory.CreateDirectory(dataRoot);
        var free = new DriveInfo(dataRoot).AvailableFreeSpace / (1024 * 1024);
        return Math.Max(64, free / 2 / replicas);
    }

    private static long? MemAvailableMiB()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
            {
                if (line.StartsWith("MemAvailable:", StringComparison.Ordinal)
                    && long.TryParse(line.AsSpan(13).Trim().TrimEnd("kB").Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var kib))
                {
                    return kib / 1024;
                }
            }
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            // Not Linux: the fallback.
        }

        return null;
    }

    /// <summary><c>artifacts/soak/TIME-memory|durable</c> under the repository when run from inside it, else under the
    /// temp directory.</summary>
    private static string DefaultOutput(bool durable)
    {
        var name = Invariant($"{DateTime.Now:yyyyMMdd-HHmmss}-{(durable ? "durable" : "memory")}");
        for (var directory = new DirectoryInfo(Directory.GetCurrentDirectory()); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Paxos.Core.sln")))
            {
                return Path.Combine(directory.FullName, "artifacts", "soak", name);
            }
        }

        return Path.Combine(Path.GetTempPath(), "paxos-soak", name);
    }
}
