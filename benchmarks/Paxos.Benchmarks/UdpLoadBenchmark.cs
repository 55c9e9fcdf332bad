using System.Globalization;
using System.Reflection;
using Paxos.Sample;
using Paxos.Sample.Processes;
using Paxos.Sample.Protocol;
using Paxos.Sample.Replica;

namespace Paxos.Benchmarks;

/// <summary>What the UDP load generator runs: <c>--writers 1,64 --runs 3 --seconds 10 --warmup 3 --payload-bytes 64
/// --replicas 3 [--host-dll PATH] [--max-datagram-bytes B] [--tick-ms T]</c>.</summary>
internal sealed record UdpLoadOptions(
    int[] Writers, int Runs, int Seconds, int WarmupSeconds, int PayloadBytes, int Replicas, string? HostDll, int? MaxDatagramBytes, int? TickMillis)
{
    public static readonly string[] Names = ["writers", "runs", "seconds", "warmup", "payload-bytes", "replicas", "host-dll", "max-datagram-bytes", "tick-ms"];

    public static UdpLoadOptions From(CommandOptions line)
    {
        var writers = (line.Text("writers") ?? "1,64").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(w => int.TryParse(w, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= LoadRequest.MaxWriters
                ? n : throw new UsageException($"--writers takes a list of counts from 1 to {LoadRequest.MaxWriters}, such as 1,64; got '{w}'."))
            .ToArray();
        return new UdpLoadOptions(
            writers.Length > 0 ? writers : throw new UsageException("--writers is empty."),
            line.Int("runs", 3, 1, 50),
            line.Int("seconds", 10, 1, LoadRequest.MaxMillis / 1000),
            line.Int("warmup", 3, 0, LoadRequest.MaxMillis / 1000),
            line.Int("payload-bytes", 64, LoadRequest.MinPayloadBytes, 1024),
            line.Int("replicas", 3, 1, 7),
            line.Text("host-dll"),
            line.Has("max-datagram-bytes") ? line.Int("max-datagram-bytes", 0, 576, 65_507) : null,
            line.Has("tick-ms") ? line.Int("tick-ms", 0, 1, 1000) : null);
    }

    /// <summary>Arguments every replica gets after its own. Durable storage will add its <c>--data-dir</c> here (one
    /// directory per replica), and a <c>--durable</c> switch of this generator will choose it.</summary>
    public List<string> ReplicaArguments()
    {
        var arguments = new List<string>();
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
        Console.WriteLine(Say($"UDP load generator: {options.Replicas} replica processes ({command}) on 127.0.0.1, {Environment.ProcessorCount} cores; {options.PayloadBytes}-byte updates, {options.WarmupSeconds} s warm-up + {options.Seconds} s measured in the leader's process, {options.Runs} runs per writer count; storage in memory (no fsync)"));
        WarnIfDebug(command);
        var table = new List<(int Writers, List<RunResult> Runs)>();
        foreach (var writers in options.Writers)
        {
            var runs = new List<RunResult>();
            for (var run = 1; run <= options.Runs; run++)
            {
                var result = await RunOnceAsync(command, options, writers, cancellationToken);
                Console.WriteLine(Say($"  W={writers,-3} run {run}/{options.Runs}: {result.Describe()}"));
                runs.Add(result);
            }

            table.Add((writers, runs));
        }

        UdpLoadReport.Print(table, options);
        return 0;
    }

    private static async Task<RunResult> RunOnceAsync(LaunchCommand command, UdpLoadOptions options, int writers, CancellationToken cancellationToken)
    {
        var environment = new Dictionary<string, string> { ["DOTNET_gcServer"] = "0" };
        var replicas = await ClusterLauncher.StartAsync(command, options.Replicas, options.ReplicaArguments(), ShowTrouble, environment, cancellationToken);
        var clients = new List<ReplicaClient>();
        try
        {
            foreach (var replica in replicas)
            {
                clients.Add(await ReplicaClient.ConnectAsync(replica.ClientEndpoint!, cancellationToken));
            }

            var leader = await WaitForLeaderAsync(clients, cancellationToken);
            var request = new LoadRequest(writers, options.Seconds * 1000, options.PayloadBytes, options.WarmupSeconds * 1000);
            var load = await clients[leader].LoadAsync(request, cancellationToken);
            var peaks = new long[clients.Count];
            for (var i = 0; i < clients.Count; i++)
            {
                peaks[i] = (await clients[i].StatusAsync(TimeSpan.FromSeconds(5), cancellationToken)).PeakMemoryBytes;
            }

            return new RunResult(load, leader, peaks);
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }

            ClusterLauncher.DisposeAll(replicas);
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
    private static void ShowTrouble(int replica, string line)
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
    private static LaunchCommand Locate(string? hostDll)
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

    private static void WarnIfDebug(LaunchCommand command)
    {
        var configuration = typeof(ReplicaHost).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration;
        if (!string.Equals(configuration, "Release", StringComparison.OrdinalIgnoreCase))
        {
            Console.WriteLine($"  WARNING: this is a {configuration} build; measure with dotnet run -c Release ({command}).");
        }
    }

    private static string Say(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}

/// <summary>One run: the leader's measurement and every replica's peak memory.</summary>
internal sealed record RunResult(LoadResult Load, int Leader, long[] PeakMemoryBytes)
{
    public string Describe()
    {
        var l = Load;
        var perUpdate = Math.Max(l.Updates, 1);
        var followers = string.Join(", ", PeakMemoryBytes.Where((_, i) => i != Leader).Select(p => Say($"{p / (1024.0 * 1024):N0}")));
        return Say($"{l.UpdatesPerSecond,9:N0}/s  p50 {l.P50Nanos / 1e3,6:N0} µs  p99 {l.P99Nanos / 1e3,6:N0} µs  p99.9 {l.P999Nanos / 1e3,6:N0} µs  max {l.MaxNanos / 1e3:N0} µs  ")
            + Say($"peak MiB leader r{Leader} {PeakMemoryBytes[Leader] / (1024.0 * 1024):N0}, others {followers}  ")
            + Say($"| leader per 1k updates: {1000.0 * l.DatagramsSent / perUpdate:0.#} datagrams out, {1000.0 * l.DatagramsReceived / perUpdate:0.#} in, ")
            + Say($"{1000.0 * l.ThreadPoolWorkItems / perUpdate:0} thread-pool items; CPU {(l.UserCpuSeconds + l.SystemCpuSeconds) / l.Seconds:0.00} cores ({l.SystemCpuSeconds / l.Seconds:0.00} system); ")
            + Say($"GC {l.Gen0Collections}/{l.Gen1Collections}/{l.Gen2Collections}, paused {1000 * l.GcPauseSeconds:N0} ms; {l.Failures} failures");
    }

    private static string Say(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
