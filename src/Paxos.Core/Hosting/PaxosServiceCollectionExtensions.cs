using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Paxos;

#pragma warning disable IDE0130 // Extension methods for IServiceCollection live in its namespace, by .NET convention.
namespace Microsoft.Extensions.DependencyInjection;
#pragma warning restore IDE0130

/// <summary>Registers a <see cref="PaxosNode"/> with a service collection.</summary>
public static class PaxosServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="PaxosOptions"/> (validated when first read) and a singleton <see cref="PaxosNode"/>
    /// built from the registered <see cref="IExecutor"/>, <see cref="ITransport"/> and, when present,
    /// <see cref="IReplicaStorage"/>, <see cref="ILoggerFactory"/> and <see cref="TimeProvider"/>. The host
    /// starts and stops the node (<see cref="PaxosNode.StartAsync"/>, <see cref="PaxosNode.StopAsync"/>).
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddPaxos(this IServiceCollection services, Action<PaxosOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<PaxosOptions>().Configure(configure);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PaxosOptions>, PaxosOptionsValidator>());
        services.TryAddSingleton(provider => new PaxosNode(
            provider.GetRequiredService<IOptions<PaxosOptions>>().Value,
            provider.GetRequiredService<IExecutor>(),
            provider.GetRequiredService<ITransport>(),
            provider.GetService<IReplicaStorage>(),
            provider.GetService<ILoggerFactory>(),
            provider.GetService<TimeProvider>()));
        return services;
    }
}
