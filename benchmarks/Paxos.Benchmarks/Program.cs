using System.Globalization;
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

// `--fsync` measures what a durable batch costs the file log on this disk.
if (args.Length > 0 && args[0] == "--fsync")
{
    var batches = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 2000;
    var runs = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 3;
    return FsyncBenchmark.Run(batches, runs);
}

// `--floor` measures the fastest durable round this machine allows: the disk and the network, with no protocol.
if (args.Length > 0 && args[0] == "--floor")
{
    var seconds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5;
    var runs = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 3;
    return DurableFloor.Run(seconds, runs);
}

// `--cluster` measures the in-process 3-replica cluster (median of runs); anything else goes to
// BenchmarkDotNet (`--filter *` runs every micro-benchmark).
if (args.Length > 0 && args[0] == "--cluster")
{
    var runs = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5;
    var Updates = args.Length > 2 ? long.Parse(args[2], CultureInfo.InvariantCulture) : 2_000_000;
    foreach (var (clients, entry, label) in new[] { (256, 1, "256 clients at the leader"), (256, 0, "256 clients at a non-leader (forwarded)"), (1, 1, "1 client at the leader") })
    {
        var updates = clients == 1 ? Updates / 10 : Updates;
        var results = Enumerable.Range(0, runs).Select(_ => InProcessCluster.Measure(clients, 64, updates, entry)).ToList();
        var rates = results.Select(r => r.UpdatesPerSecond).Order().ToList();
        var bytes = results.Select(r => r.BytesPerUpdate).Order().ToList();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{label}: median {rates[rates.Count / 2]:N0} ordered updates/s (min {rates[0]:N0}, max {rates[^1]:N0}), median {bytes[bytes.Count / 2]:N0} bytes allocated per update (payload shared, not counted); {runs} runs of {updates:N0}"));
    }

    return 0;
}

BenchmarkSwitcher.FromAssembly(typeof(InProcessCluster).Assembly).Run(args);
return 0;
