using Microsoft.Extensions.Hosting;

namespace Paxos.Hosting;

/// <summary>Starts the container's <see cref="PaxosNode"/> when the host starts and stops it when the host stops,
/// so that an application built with <c>services.AddPaxos</c> never calls either itself.</summary>
/// <remarks>The host cancels <see cref="StartAsync"/>'s token when its start is abandoned, and
/// <see cref="StopAsync"/>'s when its shutdown timeout passes: the node stops waiting then, as its methods say.</remarks>
internal sealed class PaxosNodeHostedService(PaxosNode node) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => node.StartAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => node.StopAsync(cancellationToken);
}
