namespace Paxos.Tests.Docs;

/// <summary>The README's example, compiled and run, so that it cannot rot.</summary>
public class ReadmeExampleTests
{
    [Test]
    public async Task The_readme_example_orders_an_update_across_three_nodes()
    {
        // Three replicas in one process (use UdpTransport across machines).
        var network = new InProcessNetwork(3);
        var nodes = Enumerable.Range(0, 3).Select(i => new PaxosNode(
            new PaxosOptions { ReplicaId = i, ClusterSize = 3 },
            new Counter(),
            network.CreateTransport(new ReplicaId(i)))).ToList();
        foreach (var node in nodes)
        {
            await node.StartAsync();
        }

        // Any replica takes updates; (client id, timestamp) makes re-submission safe.
        var reply = await nodes[0].SubmitAsync(new ClientUpdate(new ClientId(1), timestamp: 1, new byte[] { 5 })).WaitAsync(TimeSpan.FromSeconds(30));

        BitConverter.ToInt64(reply.Span).Should().Be(5);
        foreach (var node in nodes)
        {
            await node.DisposeAsync();
        }
    }

    // Your state machine: here, a counter. It must be deterministic.
    private sealed class Counter : IExecutor
    {
        private long _total;

        public ReadOnlyMemory<byte> Execute(in OrderedUpdate update)
        {
            _total += update.Payload.Span[0];
            return BitConverter.GetBytes(_total);
        }
    }
}
