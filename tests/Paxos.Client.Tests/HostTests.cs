using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Paxos.Client.Listener;
using Paxos.Client.Tests.Support;
using Paxos.Transport;

namespace Paxos.Client.Tests;

/// <summary><c>AddPaxosClientListener</c> under a real host: options from the <c>Paxos:ClientListener</c> section,
/// checked on start, and the listener started after the node and stopped before it.</summary>
public sealed class HostTests
{
    [Test]
    public async Task A_host_runs_the_listener_beside_its_node()
    {
        using var host = BuildHost(new() { ["Paxos:ClientListener:ListenEndpoint"] = "127.0.0.1:0" });
        await host.StartAsync();
        var listener = host.Services.GetRequiredService<PaxosClientListener>();

        var options = new PaxosClientOptions { OperationTimeout = TimeSpan.FromSeconds(20) };
        options.Replicas.Add(listener.LocalEndpoint!);
        await using (var client = new PaxosClient(options))
        {
            await client.SubmitAsync("SET a 1"u8.ToArray());
            (await client.ReadAsync("GET a"u8.ToArray())).ToArray().Should().Equal("1"u8.ToArray());
        }

        await host.StopAsync();
        listener.Counters.ConnectionsOpen.Should().Be(0);
    }

    [Test]
    public async Task Bad_listener_options_stop_the_host_from_starting()
    {
        using var host = BuildHost(new() { ["Paxos:ClientListener:ListenEndpoint"] = "nowhere" });
        var start = () => host.StartAsync();
        (await start.Should().ThrowAsync<OptionsValidationException>()).Which.Message.Should().Contain("ListenEndpoint");
    }

    private static IHost BuildHost(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        var network = new InProcessNetwork(1);
        builder.Services.AddSingleton<IExecutor>(new KeyValueStore());
        builder.Services.AddSingleton(network.CreateTransport(new ReplicaId(0)));
        builder.Services.AddPaxos(static o =>
        {
            o.ReplicaId = 0;
            o.ClusterSize = 1;
            o.TickInterval = TimeSpan.FromMilliseconds(2);
        });
        builder.Services.AddPaxosClientListener(static _ => { });
        return builder.Build();
    }
}
