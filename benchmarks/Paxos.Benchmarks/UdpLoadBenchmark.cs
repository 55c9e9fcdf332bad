using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using Paxos.Sample;
using Paxos.Sample.Processes;
using Paxos.Sample.Protocol;
using Paxos.Sample.Replica;
using static System.FormattableString;

namespace Paxos.Benchmarks;

/// <summary>What the UDP load generator runs: <c>--writers 1,64 [--readers N] --runs 3 --seconds 10 --warmup 3 --payload-bytes 64
/// --replicas 3 [--host-dll PATH] [--max-datagram-bytes B] [--tick-ms T] [--durable | --data-dir ROOT] [--leader-sends-accept] [--inline-completions] [--floor]
/// [--read-leases]</c>.</summary>
/// <param name="DataRoot">Where durable runs put their replicas' data directories (a fresh directory per run,
/// deleted after it); null for runs in memory.</param>
/// <param name="Floor">Durable runs only: after each run, measure <see cref="DurableFloor"/> with as many bytes per
/// round as the run wrote per update times its writers, so that the run can be set against the disk of that
/// minute.</param>
internal sealed record UdpLoadOptions(
    int[] Writers, int Runs, int Seconds, int WarmupSeconds, int PayloadBytes, int Replicas, string? HostDll, int? MaxDatagramBytes, int? TickMillis, string? DataRoot, bool LeaderSendsAccept, bool InlineCompletions, bool Floor, int Readers = 0, bool ReadLeases = false)
{
    public static readonly string[] Flags = ["durable", "leader-sends-accept", "inline-completions", "floor", "read-leases"];

    public static readonly string[] Names = ["writers", "runs", "seconds", "warmup", "payload-bytes", "replicas", "host-dll", "max-datagram-bytes", "tick-ms", "data-dir", "readers"];

    /// <summary>Whether the replicas keep write-ahead logs: every replica then fsyncs before it acknowledges.</summary>
    public bool Durable => DataRoot is not null;

    public static UdpLoadOptions From(CommandOptions line)
    {
        // Zero writers is a read-only run, so it needs readers.
        var readers = line.Int("readers", 0, 0, LoadRequest.MaxWriters);
        var fewest = readers > 0 ? 0 : 1;
        var writers = (line.Text("writers") ?? "1,64").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(w => int.TryParse(w, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= fewest && n <= LoadRequest.MaxWriters
                ? n : throw new UsageException($"--writers takes a list of counts from {fewest} to {LoadRequest.MaxWriters}, such as 1,64 (0, a read-only run, with --readers); got '{w}'."))
            .ToArray();
        var dataRoot = line.Text("data-dir") is { } root ? Path.GetFullPath(root) : line.Has("durable") ? Path.GetTempPath() : null;
        if (line.Has("floor") && dataRoot is null)
        {
            throw new UsageException("--floor measures the disk beside durable runs; add --durable.");
        }

        return new UdpLoadOptions(
            writers.Length > 0 ? writers : throw new UsageException("--writers is empty."),
            line.Int("runs", 3, 1, 50),
            line.Int("seconds", 10, 1, LoadRequest.MaxMillis / 1000),
            line.Int("warmup", 3, 0, LoadRequest.MaxMillis / 1000),
            line.Int("payload-bytes", 64, LoadRequest.MinPayloadBytes, 1024),
            line.Int("replicas", 3, 1, 7),
            line.Text("host-dll"),
            line.Has("max-datagram-bytes") ? line.Int("max-datagram-bytes", 0, 576, 65_507) : null,
            line.Has("tick-ms") ? line.Int("tick-ms", 0, 1, 1000) : null,
            dataRoot,
            line.Has("leader-sends-accept"),
            line.Has("inline-completions"),
            line.Has("floor"),
            readers,
            line.Has("read-leases"));
    }

    /// <summary>Arguments replica <paramref name="replica"/> gets after its own: its data directory under
    /// <paramref name="runDirectory"/> for a durable run. No replica keeps the executed-update list (the History
    /// request's, 24 bytes per update), so that peak memory measures the replication engine alone.</summary>
    public List<string> ReplicaArguments(int replica, string? runDirectory)
    {
        var arguments = new List<string> { "--no-history" };
        if (LeaderSendsAccept)
        {
            arguments.Add("--leader-sends-accept");
        }

        if (InlineCompletions)
        {
            arguments.Add("--inline-completions");
        }

        if (ReadLeases)
        {
            arguments.Add("--read-leases");
        }

        if (runDirectory is not null)
        {
            arguments.AddRange(["--data-dir", Path.Combine(runDirectory, string.Create(CultureInfo.InvariantCulture, $"r{replica}"))]);
        }

        if (MaxDatagramBytes is { } bytes)
        {
            arguments.AddRange(["--max-datagram-bytes", bytes.ToString(CultureInfo.InvariantCulture)]);
        }

        if (TickMillis is { } tick)
        {
            arguments.AddRange(["--tick-ms", tick.ToString(CultureInfo.InvariantCulture)]);
        }

        return arguments;
    }
}

/// <summary>
/// The UDP load generator (<c>--udp</c>): for each writer count, several runs, each on a fresh cluster of replica
/// processes of the sample host on 127.0.0.1 (fresh, so every run's peak memory is its own). It waits for a leader,
/// then asks the leader's process — through the client protocol's Load request — to run the writers inside itself,
/// each awaiting <see cref="PaxosNode.SubmitAsync"/> before its next update, and to measure throughput and latency
/// there. Storage is the replicas' in-memory store: no fsync.
/// </summary>
internal static class UdpLoadBenchmark
{
    private static readonly TimeSpan LeaderTimeout = TimeSpan.FromSeconds(30);

    public static async Task<int> RunAsync(UdpLoadOptions options, CancellationToken cancellationToken)
    {
        var command = Locate(options.HostDll);
        var storage = options.DataRoot is { } root ? $"durable: a write-ahead log per replica under {root} (a fresh directory per run, deleted after), fsync before every acknowledgement" : "storage in memory (no fsync)";
        storage += options.LeaderSendsAccept ? "; LeaderSendsAccept on" : string.Empty;
        storage += options.InlineCompletions ? "; UnsafePreferInlineCompletions on" : string.Empty;
        storage += options.ReadLeases ? "; ReadLeases on" : string.Empty;
        storage += options.Readers > 0 ? Invariant($"; {options.Readers} readers at the leader (ReadAsync, one read outstanding each)") : string.Empty;
        Console.WriteLine(Invariant($"UDP load generator: {options.Replicas} replica processes ({command}) on 127.0.0.1, {Environment.ProcessorCount} cores; {options.PayloadBytes}-byte updates, {options.WarmupSeconds} s warm-up + {options.Seconds} s measured in the leader's process, {options.Runs} runs per writer count; {storage}"));
        WarnIfDebug(command);
        var table = new List<(int Writers, List<RunResult> Runs)>();
        foreach (var writers in options.Writers)
        {
            var runs = new List<RunResult>();
            for (var run = 1; run <= options.Runs; run++)
            {
                var result = await RunOnceAsync(command, options, writers, cancellationToken);
                if (options.Floor && writers > 0 && result.Storage is { } figures) // The floor is a ceiling for updates.
                {
                    result = result with { Floor = MeasureFloor(figures, writers, options.Seconds) };
                }

                Console.WriteLine(Invariant($"  W={writers,-3} run {run}/{options.Runs}: {result.Describe()}"));
                runs.Add(result);
            }

            table.Add((writers, runs));
        }

        UdpLoadReport.Print(table, options);
        return 0;
    }

    private static async Task<RunResult> RunOnceAsync(LaunchCommand command, UdpLoadOptions options, int writers, CancellationToken cancellationToken)
    {
        var runDirectory = options.DataRoot is { } root ? Path.Combine(root, $"paxos-bench-{Guid.NewGuid().ToString("N")[..12]}") : null;
        var environment = new Dictionary<string, string> { ["DOTNET_gcServer"] = "0" };
        var replicas = await ClusterLauncher.StartAsync(command, options.Replicas, r => options.ReplicaArguments(r, runDirectory), ShowTrouble, environment, cancellationToken);
        var clients = new List<ReplicaClient>();
        var observers = new List<ReplicaClient>(); // A second connection each: the leader's first is busy with Load.
        try
        {
            foreach (var replica in replicas)
            {
                clients.Add(await ReplicaClient.ConnectAsync(replica.ClientEndpoint!, cancellationToken));
                observers.Add(await ReplicaClient.ConnectAsync(replica.ClientEndpoint!, cancellationToken));
            }

            var leader = await WaitForLeaderAsync(clients, cancellationToken);
            var request = new LoadRequest(writers, options.Seconds * 1000, options.PayloadBytes, options.WarmupSeconds * 1000, options.Readers);
            var loading = clients[leader].LoadAsync(request, cancellationToken);
            var storage = await SampleStorageAsync(observers, request, cancellationToken);
            var load = await loading;
            var peaks = new long[clients.Count];
            for (var i = 0; i < clients.Count; i++)
            {
                peaks[i] = (await clients[i].StatusAsync(TimeSpan.FromSeconds(5), cancellationToken)).PeakMemoryBytes;
            }

            return new RunResult(load, leader, peaks, options.Durable ? storage : null);
        }
        finally
        {
            foreach (var client in clients.Concat(observers))
            {
                await client.DisposeAsync();
            }

            ClusterLauncher.DisposeAll(replicas);
            DeleteRunDirectory(runDirectory);
        }
    }

    /// <summary>The floor right after a run, with the bytes per copy that <paramref name="writers"/> updates took in
    /// it (the most any replica wrote per update).</summary>
    private static DurableFloor.Result MeasureFloor(StorageFigures[] storage, int writers, int seconds)
    {
        var bytesPerUpdate = storage.Max(f => f.Executed > 0 ? f.BytesWritten / (double)f.Executed : 0);
        var bytesPerRound = (int)Math.Clamp(bytesPerUpdate * writers, 64, 1 << 20);
        return DurableFloor.Measure(FloorShape.LeaderAndFollower, bytesPerRound, TimeSpan.FromSeconds(Math.Min(seconds, 5)));
    }

    /// <summary>
    /// Every replica's storage counters over the measured interval, by this process's clock: sampled when the leader's
    /// warm-up ends and again when its measurement ends (the leader starts both on receiving the request, a moment
    /// after this does, so the two intervals agree within a few milliseconds of ten seconds).
    /// </summary>
    private static async Task<StorageFigures[]> SampleStorageAsync(List<ReplicaClient> observers, LoadRequest request, CancellationToken cancellationToken)
    {
        await Task.Delay(request.WarmupMillis, cancellationToken);
        var clock = Stopwatch.StartNew();
        var before = await Task.WhenAll(observers.Select(o => o.StatusAsync(TimeSpan.FromSeconds(5), cancellationToken)));
        await Task.Delay(TimeSpan.FromMilliseconds(request.MeasureMillis) - clock.Elapsed, cancellationToken);
        var seconds = clock.Elapsed.TotalSeconds;
        var after = await Task.WhenAll(observers.Select(o => o.StatusAsync(TimeSpan.FromSeconds(5), cancellationToken)));
        return [.. before.Zip(after, (b, a) => StorageFigures.Between(b, a, seconds))];
    }

    private static void DeleteRunDirectory(string? runDirectory)
    {
        if (runDirectory is null || !Directory.Exists(runDirectory))
        {
            return;
        }

        try
        {
            Directory.Delete(runDirectory, recursive: true);
        }
        catch (IOException exception)
        {
            Console.WriteLine($"  (could not delete {runDirectory}: {exception.Message})");
        }
    }

    private static async Task<int> WaitForLeaderAsync(List<ReplicaClient> clients, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + LeaderTimeout;
        while (DateTime.UtcNow < deadline)
        {
            var statuses = new List<ReplicaStatusInfo>();
            foreach (var client in clients)
            {
                statuses.Add(await client.StatusAsync(TimeSpan.FromSeconds(5), cancellationToken));
            }

            if (statuses.All(s => s.State != ReplicaState.LeaderElection && s.LastInstalled == statuses[0].LastInstalled)
                && statuses.FindIndex(s => s.IsLeader) is var leader and >= 0)
            {
                return leader;
            }

            await Task.Delay(50, cancellationToken);
        }

        throw new InvalidOperationException($"No leader within {LeaderTimeout.TotalSeconds} s.");
    }

    /// <summary>The replicas' own lines are shown only when something is wrong.</summary>
    public static void ShowTrouble(int replica, string line)
    {
        if (line.StartsWith("warn", StringComparison.Ordinal) || line.StartsWith("fail", StringComparison.Ordinal) || line.StartsWith("crit", StringComparison.Ordinal)
            || line.Contains("Exception", StringComparison.Ordinal))
        {
            Console.WriteLine($"    [r{replica}] {line}");
        }
    }

    /// <summary>
    /// The sample host to start: <c>--host-dll</c> when given; else the copy the build put beside this program (this
    /// project references the sample, so it is built with the same configuration); else the sample's own build
    /// output, found by walking up to the repository.
    /// </summary>
    public static LaunchCommand Locate(string? hostDll)
    {
        if (hostDll is not null)
        {
            return LaunchCommand.ForAssembly(Path.GetFullPath(hostDll));
        }

        var beside = typeof(ReplicaHost).Assembly.Location;
        if (File.Exists(Path.ChangeExtension(beside, ".runtimeconfig.json")))
        {
            return LaunchCommand.ForAssembly(beside);
        }

        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "samples", "Paxos.Sample.Host", "bin", "Release", "net10.0", "Paxos.Sample.Host.dll");
            if (File.Exists(candidate))
            {
                return LaunchCommand.ForAssembly(candidate);
            }
        }

        throw new UsageException("The sample host was not found; build it (dotnet build -c Release samples/Paxos.Sample.Host) or give --host-dll.");
    }

    public static void WarnIfDebug(LaunchCommand command)
    {
        var configuration = typeof(ReplicaHost).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration;
        if (!string.Equals(configuration, "Release", StringComparison.OrdinalIgnoreCase))
        {
            Console.WriteLine($"  WARNING: this is a {configuration} build; measure with dotnet run -c Release ({command}).");
        }
    }
}

/// <summary>What one replica's storage did over the measured interval.</summary>
internal sealed record StorageFigures(long Fsyncs, long Batches, long BytesWritten, long FsyncTimeTicks, long Executed, double Seconds)
{
    public double FsyncsPerSecond => Fsyncs / Seconds;

    /// <summary>Updates executed per fsync: how many updates one fsync made durable, on average.</summary>
    public double UpdatesPerFsync => Fsyncs > 0 ? Executed / (double)Fsyncs : 0;

    public double MeanFsyncMicros => Fsyncs > 0 ? FsyncTimeTicks / 10.0 / Fsyncs : 0;

    public double MiBPerSecond => BytesWritten / (1024.0 * 1024) / Seconds;

    public static StorageFigures Between(ReplicaStatusInfo before, ReplicaStatusInfo after, double seconds) => new(
        after.Storage.Fsyncs - before.Storage.Fsyncs,
        after.Storage.BatchesPersisted - before.Storage.BatchesPersisted,
        after.Storage.BytesWritten - before.Storage.BytesWritten,
        after.Storage.FsyncTimeTicks - before.Storage.FsyncTimeTicks,
        after.Executed - before.Executed,
        seconds);

    public string Describe() => Invariant($"{FsyncsPerSecond:N0} fsyncs/s, {UpdatesPerFsync:0.0} updates/fsync, fsync mean {MeanFsyncMicros:N0} µs, {MiBPerSecond:0.0} MiB/s");
}

/// <summary>One run: the leader's measurement, every replica's peak memory, and (durable runs) every replica's storage figures.</summary>
/// <param name="Floor">The durable floor measured right after the run, when asked for.</param>
internal sealed record RunResult(LoadResult Load, int Leader, long[] PeakMemoryBytes, StorageFigures[]? Storage, DurableFloor.Result? Floor = null)
{
    /// <summary>The run's throughput as a share of the floor's ceiling for its writers: every round carrying one
    /// update per writer.</summary>
    public double? ShareOfFloor => Floor is { RoundsPerSecond: > 0 } floor ? Load.UpdatesPerSecond / (floor.RoundsPerSecond * Load.Writers) : null;

    public string Describe()
    {
        var l = Load;
        if (l.Writers == 0)
        {
            return DescribeReadOnly();
        }

        var perUpdate = Math.Max(l.Updates, 1);
        var followers = string.Join(", ", PeakMemoryBytes.Where((_, i) => i != Leader).Select(p => Invariant($"{p / (1024.0 * 1024):N0}")));
        return Invariant($"{l.UpdatesPerSecond,9:N0}/s  p50 {l.P50Nanos / 1e3,6:N0} µs  p99 {l.P99Nanos / 1e3,6:N0} µs  p99.9 {l.P999Nanos / 1e3,6:N0} µs  max {l.MaxNanos / 1e3:N0} µs  ")
            + Invariant($"peak MiB leader r{Leader} {PeakMemoryBytes[Leader] / (1024.0 * 1024):N0}, others {followers}  ")
            + Invariant($"| leader per 1k updates: {1000.0 * l.DatagramsSent / perUpdate:0.#} datagrams out, {1000.0 * l.DatagramsReceived / perUpdate:0.#} in, ")
            + Invariant($"{1000.0 * l.ThreadPoolWorkItems / perUpdate:0} thread-pool items; CPU {(l.UserCpuSeconds + l.SystemCpuSeconds) / l.Seconds:0.00} cores ({l.SystemCpuSeconds / l.Seconds:0.00} system); ")
            + Invariant($"GC {l.Gen0Collections}/{l.Gen1Collections}/{l.Gen2Collections}, paused {1000 * l.GcPauseSeconds:N0} ms; {l.Failures} failures")
            + (l.Reads + l.ReadFailures == 0 ? string.Empty : Environment.NewLine
                + Invariant($"             reads: {l.ReadsPerSecond,9:N0}/s  p50 {l.ReadP50Nanos / 1e3,6:N0} µs  p99 {l.ReadP99Nanos / 1e3,6:N0} µs  ({l.ReadsPerSecond / Math.Max(1, l.UpdatesPerSecond):0.0}x updates); {l.ReadFailures} failures"))
            + (Storage is null ? string.Empty : Environment.NewLine + "             storage: " + string.Join("; ", Storage.Select((f, i) => Invariant($"r{i}{(i == Leader ? " (leader)" : string.Empty)} {f.Describe()}"))))
            + (Floor is null ? string.Empty : Environment.NewLine + "             floor right after: " + Floor.Describe()
                + Invariant($"; this run did {ShareOfFloor:P0} of its ceiling, {Floor.RoundsPerSecond * Load.Writers:N0} updates/s (one update per writer per round)"));
    }

    /// <summary>A run without writers: the reads' figures, and the leader's costs per thousand reads.</summary>
    private string DescribeReadOnly()
    {
        var l = Load;
        var perRead = Math.Max(l.Reads, 1);
        var followers = string.Join(", ", PeakMemoryBytes.Where((_, i) => i != Leader).Select(p => Invariant($"{p / (1024.0 * 1024):N0}")));
        return Invariant($"reads {l.ReadsPerSecond,9:N0}/s  p50 {l.ReadP50Nanos / 1e3,6:N0} µs  p99 {l.ReadP99Nanos / 1e3,6:N0} µs  {l.ReadFailures} failures  ")
            + Invariant($"peak MiB leader r{Leader} {PeakMemoryBytes[Leader] / (1024.0 * 1024):N0}, others {followers}  ")
            + Invariant($"| leader per 1k reads: {1000.0 * l.DatagramsSent / perRead:0.#} datagrams out, {1000.0 * l.DatagramsReceived / perRead:0.#} in, ")
            + Invariant($"{1000.0 * l.ThreadPoolWorkItems / perRead:0} thread-pool items; CPU {(l.UserCpuSeconds + l.SystemCpuSeconds) / l.Seconds:0.00} cores ({l.SystemCpuSeconds / l.Seconds:0.00} system); ")
            + Invariant($"GC {l.Gen0Collections}/{l.Gen1Collections}/{l.Gen2Collections}, paused {1000 * l.GcPauseSeconds:N0} ms");
    }
}
