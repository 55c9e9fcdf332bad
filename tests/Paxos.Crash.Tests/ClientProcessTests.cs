using System.Globalization;
using System.Text;
using Paxos.Client;
using Paxos.Sample;

namespace Paxos.Crash.Tests;

/// <summary>
/// A client in another process than the replicas — this test's, with only the Paxos.Client package — opens a session,
/// submits through the replicas' listeners while the leader is killed with SIGKILL, and reads every one of its writes
/// back linearizably; each of its updates executed exactly once on every surviving replica.
/// </summary>
public class ClientProcessTests
{
    private const int Replicas = 3;
    private const int UpdatesBefore = 15;
    private const int UpdatesAfter = 15;
    private static readonly TimeSpan StatusTimeout = TimeSpan.FromSeconds(2);

    [Test]
    public async Task A_client_submits_across_a_leader_kill_and_reads_its_own_writes()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("The test kills a replica with a Linux signal.");
        }

        var root = Path.Combine(Path.GetTempPath(), "paxos-client-" + Guid.NewGuid().ToString("N")[..8]);
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var cluster = await CrashCluster.StartAsync(root, Replicas, [], limit.Token);
        try
        {
            var options = new PaxosClientOptions();
            for (var r = 0; r < Replicas; r++)
            {
                options.Replicas.Add(cluster.ListenerEndpoint(r));
            }

            await using var client = new PaxosClient(options);
            for (var i = 1; i <= UpdatesBefore; i++)
            {
                await client.SubmitAsync(Set(i), limit.Token);
            }

            var session = client.SessionId;
            session.Should().NotBeNull("the client opened a session with its first update");
            var leader = await LeaderAsync(cluster, limit.Token);
            await cluster.KillAsync(leader);

            for (var i = UpdatesBefore + 1; i <= UpdatesBefore + UpdatesAfter; i++)
            {
                await client.SubmitAsync(Set(i), limit.Token);
            }

            client.SessionId.Should().Be(session, "no update was in doubt, so the session carried across the leader's death");
            for (var i = 1; i <= UpdatesBefore + UpdatesAfter; i++)
            {
                var answer = await client.ReadAsync(Encoding.UTF8.GetBytes(Key(i)), limit.Token);
                KeyValueExecutor.TryParseReply(answer.Span, out _, out var kind, out var value).Should().BeTrue();
                kind.Should().Be(KeyValueExecutor.ReplyKind.Value, $"{Key(i)} was written and acknowledged before the read");
                Encoding.UTF8.GetString(value).Should().Be(Value(i));
            }

            for (var r = 0; r < Replicas; r++)
            {
                if (r == leader)
                {
                    continue;
                }

                var history = await cluster.HistoryAsync(r, limit.Token);
                history.Where(e => e.ClientId == session).Select(e => e.Timestamp)
                    .Should().Equal(Enumerable.Range(1, UpdatesBefore + UpdatesAfter).Select(t => (long)t),
                        $"r{r} executed each of the session's updates once, in order");
            }
        }
        finally
        {
            await cluster.DisposeAsync();
            Directory.Delete(root, recursive: true);
        }
    }

    private static string Key(int i) => string.Create(CultureInfo.InvariantCulture, $"client-key-{i}");

    private static string Value(int i) => string.Create(CultureInfo.InvariantCulture, $"value-{i}");

    private static byte[] Set(int i) => Encoding.UTF8.GetBytes($"SET {Key(i)} {Value(i)}");

    /// <summary>The replica that says it leads, asked every 50 ms (bounded by the token).</summary>
    private static async Task<int> LeaderAsync(CrashCluster cluster, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 400; attempt++)
        {
            for (var r = 0; r < cluster.Size; r++)
            {
                if (await cluster.TryStatusAsync(r, StatusTimeout, cancellationToken) is { IsLeader: true })
                {
                    return r;
                }
            }

            await Task.Delay(50, cancellationToken);
        }

        throw new TimeoutException("No replica said it was the leader.");
    }
}
