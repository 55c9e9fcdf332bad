using System.Globalization;
using System.Runtime.InteropServices;
using BenchmarkDotNet.Running;
using Paxos.Benchmarks;
using Paxos.Sample;

// `--udp` runs the UDP load generator against replica processes of the sample host (see UdpLoadBenchmark).
if (args.Length > 0 && args[0] == "--udp")
{
    try
    {
        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };
        var options = UdpLoadOptions.From(CommandOptions.Parse(args[1..], UdpLoadOptions.Flags, UdpLoadOptions.Names));
        return await UdpLoadBenchmark.RunAsync(options, stop.Token);
    }
    catch (UsageException exception)
    {
        Console.Error.WriteLine(exception.Message);
        return 2;
    }
    catch (OperationCanceledException)
    {
        Console.Error.WriteLine("Stopped.");
        return 130;
    }
}

// `--soak` loads one cluster of sample-host processes for minutes and records memory, disk and throughput over time
// (SoakBenchmark; docs/performance.md, "Soak"). Ctrl+C or SIGTERM ends it early, with its files written; a second one
// exits at once (the replicas are killed on the way out, and exit anyway when their standard input closes).
if (args.Length > 0 && args[0] == "--soak")
{
    try
    {
        using var stop = new CancellationTokenSource();
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = !stop.IsCancellationRequested;
            stop.Cancel();
        });
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = !stop.IsCancellationRequested;
            stop.Cancel();
        };
        var options = SoakOptions.From(CommandOptions.Parse(args[1..], SoakOptions.Flags, SoakOptions.Names));
        return await SoakBenchmark.RunAsync(options, stop.Token);
    }
    catch (UsageException exception)
    {
        Console.Error.WriteLine(exception.Message);
        return 2;
    }
    catch (OperationCanceledException)
    {
        Console.Error.WriteLine("Stopped.");
        return 130;
    }
}

// `--fsync`, `--floor`, `--recovery`, `--cluster` and `--read-path` take plain numbers after the command; BenchmarkDotNet takes anything else.
if (args.Length > 0 && args[0] is "--fsync" or "--floor" or "--cluster" or "--recovery" or "--read-path")
{
    try
    {
        Positional.RejectBeyond(args, args[0] == "--read-path" ? 4 : 3);
        return args[0] switch
        {
            // What a durable batch costs the file log on this disk, alone and with two and three logs at once.
            "--fsync" => FsyncBenchmark.Run(Positional.Int(args, 1, "batches", 2000, 10, 1_000_000), Positional.Int(args, 2, "runs", 3, 1, 50)),

            // The fastest durable round this machine allows: the disk and the network, with no protocol.
            "--floor" => DurableFloor.Run(Positional.Int(args, 1, "seconds", 5, 1, 600), Positional.Int(args, 2, "runs", 3, 1, 50)),

            // How long a restart takes with a log of that many updates (the log is not garbage-collected yet).
            "--recovery" => RecoveryBenchmark.Run(Positional.Long(args, 1, "updates", 1_000_000, 1_000, 100_000_000), Positional.Int(args, 2, "runs", 3, 1, 50)),

            // The host's cost of a read with no round trip: one node alone, readers in this process.
            "--read-path" => ReadPathBenchmark.Run(Positional.Int(args, 1, "readers", 64, 1, 4096), Positional.Int(args, 2, "seconds", 5, 1, 600), Positional.Int(args, 3, "runs", 3, 1, 50)),

            // The in-process 3-replica cluster (median of runs).
            _ => ClusterBenchmark(Positional.Int(args, 1, "runs", 5, 1, 50), Positional.Long(args, 2, "updates", 2_000_000, 1_000, 1_000_000_000)),
        };
    }
    catch (UsageException exception)
    {
        Console.Error.WriteLine(exception.Message);
        return 2;
    }
}

BenchmarkSwitcher.FromAssembly(typeof(InProcessCluster).Assembly).Run(args);
return 0;

static int ClusterBenchmark(int runs, long totalUpdates)
{
    foreach (var (clients, entry, label) in new[] { (256, 1, "256 clients at the leader"), (256, 0, "256 clients at a non-leader (forwarded)"), (1, 1, "1 client at the leader") })
    {
        var updates = clients == 1 ? Math.Max(1, totalUpdates / 10) : totalUpdates;
        var results = Enumerable.Range(0, runs).Select(_ => InProcessCluster.Measure(clients, 64, updates, entry)).ToList();
        var rates = results.Select(r => r.UpdatesPerSecond).Order().ToList();
        var bytes = results.Select(r => r.BytesPerUpdate).Order().ToList();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{label}: median {rates[rates.Count / 2]:N0} ordered updates/s (min {rates[0]:N0}, max {rates[^1]:N0}), median {bytes[bytes.Count / 2]:N0} bytes allocated per update (payload shared, not counted); {runs} runs of {updates:N0}"));
    }

    return 0;
}
