using System.Globalization;
using Paxos.Sample.Replica;

namespace Paxos.Sample.Processes;

/// <summary>
/// Starts a cluster of replica processes on 127.0.0.1: finds free ports, starts one child per replica with the
/// whole peer list, and waits until each says it is ready. If a port was taken in the meantime (a child exits
/// with <see cref="ReplicaHost.AddressInUseExitCode"/>), the whole cluster starts again on new ports.
/// </summary>
internal static class ClusterLauncher
{
    /// <summary>How long a replica may take to print its ready line (starting the runtime, replaying its log).</summary>
    public static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);

    private const int MaxAttempts = 5;

    /// <summary>Starts <paramref name="size"/> replicas; each gets <paramref name="extraArguments"/> after its own.</summary>
    /// <exception cref="InvalidOperationException">A replica failed to start for another reason than a port clash, or
    /// every attempt clashed; the message carries the child's last lines.</exception>
    public static Task<ReplicaProcess[]> StartAsync(
        LaunchCommand command,
        int size,
        IReadOnlyList<string> extraArguments,
        Action<int, string> onLine,
        IReadOnlyDictionary<string, string>? environment,
        CancellationToken cancellationToken) =>
        StartAsync(command, size, _ => extraArguments, onLine, environment, cancellationToken);

    /// <summary>Starts <paramref name="size"/> replicas; replica <c>i</c> gets <paramref name="extraArguments"/>(i) after
    /// its own (its data directory, say).</summary>
    /// <exception cref="InvalidOperationException">As the other overload.</exception>
    public static async Task<ReplicaProcess[]> StartAsync(
        LaunchCommand command,
        int size,
        Func<int, IReadOnlyList<string>> extraArguments,
        Action<int, string> onLine,
        IReadOnlyDictionary<string, string>? environment,
        CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var (udp, tcp) = FreePorts.Reserve(size);
            var replicas = new ReplicaProcess[size];
            try
            {
                for (var id = 0; id < size; id++)
                {
                    var arguments = ReplicaSettings.LocalArguments(id, udp, tcp);
                    arguments.Add("--child");
                    arguments.AddRange(extraArguments(id));
                    replicas[id] = ReplicaProcess.Start(command, id, arguments, onLine, environment);
                }

                var ready = await Task.WhenAll(replicas.Select(r => r.WaitReadyAsync(ReadyTimeout, cancellationToken)));
                if (ready.All(r => r))
                {
                    return replicas;
                }

                var clashed = replicas.Any(r => r.ExitCode == ReplicaHost.AddressInUseExitCode);
                if (!clashed || attempt == MaxAttempts)
                {
                    throw new InvalidOperationException(Failure(command, replicas, ready, clashed));
                }
            }
            catch
            {
                DisposeAll(replicas);
                throw;
            }

            DisposeAll(replicas); // A port clash: start again on other ports.
        }
    }

    /// <summary>Starts a replica that exited (was killed) again, on the same ports and with the same data directory, and
    /// waits until it is ready. Its peers know it by those ports, so a port clash is not answered with new ones: the
    /// start is retried a few times, a moment apart (a port taken by some other program is usually given back soon).</summary>
    /// <exception cref="InvalidOperationException">It did not start; the message carries its last lines.</exception>
    /// <param name="exited">The replica's process, which has exited.</param>
    /// <param name="flags">Flags to add (<see cref="ReplicaProcess.Relaunch"/>).</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    public static async Task<ReplicaProcess> RelaunchAsync(ReplicaProcess exited, IReadOnlyList<string>? flags, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var replica = exited.Relaunch(flags);
            if (await replica.WaitReadyAsync(ReadyTimeout, cancellationToken))
            {
                return replica;
            }

            var exitCode = replica.ExitCode;
            var tail = replica.Tail;
            replica.Dispose();
            if (exitCode != ReplicaHost.AddressInUseExitCode || attempt == MaxAttempts)
            {
                var why = exitCode is { } code ? string.Create(CultureInfo.InvariantCulture, $"it exited with code {code}") : $"it was not ready within {ReadyTimeout.TotalSeconds} s";
                throw new InvalidOperationException($"Replica {exited.Id} did not restart (attempt {attempt}): {why}. Its last lines:{Environment.NewLine}{tail}");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt), cancellationToken);
        }
    }

    public static void DisposeAll(IEnumerable<ReplicaProcess?> replicas)
    {
        foreach (var replica in replicas)
        {
            replica?.Dispose();
        }
    }

    private static string Failure(LaunchCommand command, ReplicaProcess[] replicas, bool[] ready, bool clashed)
    {
        var failed = replicas.First(r => !ready[r.Id]);
        var why = clashed ? $"ports kept clashing after {MaxAttempts} attempts"
            : failed.HasExited ? string.Create(CultureInfo.InvariantCulture, $"it exited with code {failed.ExitCode}")
            : $"it was not ready within {ReadyTimeout.TotalSeconds} s";
        return $"Replica {failed.Id} ({command}) did not start: {why}. Its last lines:{Environment.NewLine}{failed.Tail}";
    }
}
