using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Paxos;
using Paxos.Sample;
using Paxos.Sample.Demo;
using Paxos.Sample.Processes;
using Paxos.Sample.Replica;
using Paxos.Storage;

// One program, three roles: the demo (no arguments), one replica (--id/--peers), or a client (client ...).
try
{
    if (args.Any(a => a is "--help" or "-h" or "-?" or "help"))
    {
        Console.WriteLine(HelpText.Text);
        return 0;
    }

    using var stop = new StopSignals();
    if (args.Length > 0 && args[0] == "client")
    {
        var line = CommandOptions.Parse(args[1..], ClientCommand.Flags, ClientCommand.Options);
        return await ClientCommand.RunAsync(line, stop.Token);
    }

    if (args.Any(a => a.StartsWith("--id", StringComparison.Ordinal) || a.StartsWith("--peers", StringComparison.Ordinal)))
    {
        var settings = ReplicaSettings.From(CommandOptions.Parse(args, ReplicaSettings.Flags, ReplicaSettings.Options));
        return await RunReplicaAsync(settings, stop);
    }

    var demo = DemoSettings.From(CommandOptions.Parse(args, DemoSettings.Flags, DemoSettings.Options));
    return await RunDemoAsync(demo, stop.Token);
}
catch (UsageException exception)
{
    Console.Error.WriteLine(exception.Message);
    Console.Error.WriteLine("See --help.");
    return 2;
}
catch (OperationCanceledException)
{
    Console.Error.WriteLine("Stopped.");
    return 130;
}

static async Task<int> RunReplicaAsync(ReplicaSettings settings, StopSignals stop)
{
    if (settings.Child)
    {
        stop.StopWhenStandardInputCloses();
    }

    using var loggerFactory = LoggerFactory.Create(builder => builder
        .SetMinimumLevel(LogLevel.Information)
        .AddSimpleConsole(options =>
        {
            options.SingleLine = true;
            options.TimestampFormat = settings.Child ? null : "HH:mm:ss.fff ";
            options.ColorBehavior = settings.Child ? LoggerColorBehavior.Disabled : LoggerColorBehavior.Default;
        }));
    return await ReplicaHost.RunAsync(settings, loggerFactory, stop.Token);
}

static async Task<int> RunDemoAsync(DemoSettings settings, CancellationToken cancellationToken)
{
    var console = new DemoConsole();
    DemoConsole.Plain(string.Create(CultureInfo.InvariantCulture,
        $"Paxos.Core sample: {settings.Replicas} replicas {(settings.InProcess ? "in this process" : "as child processes on 127.0.0.1 over UDP")}, {settings.Writers} writers, {settings.Updates:N0} updates{(settings.KillsLeader ? "; the leader is killed at 40 % and restarted at 65 %" : string.Empty)}."));
    var data = settings.DataRoot is { } root ? DemoData.Open(root, settings.Replicas) : null;
    DemoConsole.Plain(data is null
        ? "Storage: in memory (--in-memory): nothing survives the run."
        : data.Resumed
            ? $"Storage: {data.Root} (run {data.Run}): the replicas resume from their write-ahead logs (r0..r{settings.Replicas - 1}); --in-memory to keep nothing."
            : $"Storage: {data.Root} (run 1, empty): a write-ahead log per replica (r0..r{settings.Replicas - 1}); run again to resume from it, --in-memory to keep nothing.");
    IDemoCluster? cluster = null;
    try
    {
        cluster = settings.InProcess
            ? await LocalCluster.StartAsync(settings.Replicas, data, ReplicaSettings.DefaultTickMillis, console, cancellationToken)
            : await ProcessCluster.StartAsync(settings.Replicas, data, console, cancellationToken);
        var passed = await new DemoRunner(cluster, settings, data, console).RunAsync(cancellationToken);
        return passed ? 0 : 1;
    }
    catch (Exception exception) when (exception is InvalidOperationException or IOException or StorageCorruptionException)
    {
        Console.Error.WriteLine(exception.Message);
        return 1;
    }
    finally
    {
        if (cluster is not null)
        {
            await cluster.DisposeAsync();
        }

        ReplicaProcess.KillAll();
    }
}

/// <summary>Turns Ctrl+C, SIGTERM and (for a child replica) the end of standard input into one cancellation. A
/// second Ctrl+C does not wait: it kills the child replicas and exits.</summary>
internal sealed class StopSignals : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly PosixSignalRegistration? _terminate;

    public StopSignals()
    {
        Console.CancelKeyPress += OnCancelKeyPress;
        if (!OperatingSystem.IsWindows())
        {
            _terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
            {
                context.Cancel = true; // Shut down in order rather than be torn down by the runtime.
                Stop();
            });
        }
    }

    public CancellationToken Token => _stop.Token;

    /// <summary>A child replica's parent keeps its standard input open and never writes: end-of-file there means
    /// the parent is gone (even if it was killed), and the child must not outlive it.</summary>
    public void StopWhenStandardInputCloses() => _ = Task.Run(() =>
    {
        var buffer = new byte[256];
        try
        {
            using var input = Console.OpenStandardInput();
            while (input.Read(buffer) > 0)
            {
            }
        }
        catch (IOException)
        {
            // A broken pipe means the same: the parent is gone.
        }

        Stop();
    });

    public void Dispose()
    {
        Console.CancelKeyPress -= OnCancelKeyPress;
        _terminate?.Dispose();
        _stop.Dispose();
    }

    private void Stop()
    {
        try
        {
            _stop.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Already shutting down.
        }
    }

    private void OnCancelKeyPress(object? sender, ConsoleCancelEventArgs e)
    {
        if (_stop.IsCancellationRequested)
        {
            ReplicaProcess.KillAll();
            return; // Let the runtime end the process.
        }

        e.Cancel = true;
        Stop();
    }
}
