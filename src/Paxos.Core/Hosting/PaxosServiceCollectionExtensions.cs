using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Paxos;
using Paxos.Hosting;
using Paxos.Storage;
using Paxos.Transport;

#pragma warning disable IDE0130 // Extension methods for IServiceCollection live in its namespace, by .NET convention.
namespace Microsoft.Extensions.DependencyInjection;
#pragma warning restore IDE0130

/// <summary>Registers a <see cref="PaxosNode"/> with a service collection, for a host to run.</summary>
public static class PaxosServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="PaxosOptions"/>, bound from the <see cref="PaxosOptions.SectionName"/> section of the
    /// host's <see cref="IConfiguration"/> (when the container has one) and checked by
    /// <see cref="PaxosOptionsValidator"/> when the host starts; a singleton <see cref="PaxosNode"/> built from the
    /// registered <see cref="IExecutor"/>, <see cref="ITransport"/> and, when present, <see cref="IReplicaStorage"/>,
    /// <see cref="ILoggerFactory"/>, <see cref="TimeProvider"/> and <see cref="IMeterFactory"/> (which a host has: the
    /// node's metrics then go to it); and an <see cref="IHostedService"/> that starts the node when the host starts and
    /// stops it when the host stops.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddPaxos(this IServiceCollection services) =>
        AddPaxos(services, static _ => { });

    /// <summary>
    /// Registers the node as <see cref="AddPaxos(IServiceCollection)"/> does; <paramref name="configure"/> runs after
    /// the options are bound from the <see cref="PaxosOptions.SectionName"/> section, so what it sets wins.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the options, after the configuration section did.</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddPaxos(this IServiceCollection services, Action<PaxosOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);

        // Bound only when the container has a configuration (a host's always does): a bare ServiceCollection keeps
        // working with options set in code alone. BindConfiguration would demand one.
        services.AddOptions<PaxosOptions>().Configure<IServiceProvider>(static (options, provider) =>
            provider.GetService<IConfiguration>()?.GetSection(PaxosOptions.SectionName).Bind(options));
        return AddNode(services, configure);
    }

    /// <summary>
    /// Registers the node as <see cref="AddPaxos(IServiceCollection)"/> does, with the options bound from
    /// <paramref name="configuration"/> instead of the <see cref="PaxosOptions.SectionName"/> section (for example
    /// <c>builder.Configuration.GetSection("Cluster:Paxos")</c>), then set by <paramref name="configure"/>.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configuration">The section that holds the options.</param>
    /// <param name="configure">Sets the options after the section did; none when null.</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddPaxos(this IServiceCollection services, IConfiguration configuration, Action<PaxosOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<PaxosOptions>().Bind(configuration);
        return AddNode(services, configure ?? (static _ => { }));
    }

    private static IServiceCollection AddNode(IServiceCollection services, Action<PaxosOptions> configure)
    {
        services.AddOptions<PaxosOptions>().Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PaxosOptions>, PaxosOptionsValidator>());
        services.TryAddSingleton(static provider => new PaxosNode(
            provider.GetRequiredService<IOptions<PaxosOptions>>().Value,
            provider.GetRequiredService<IExecutor>(),
            provider.GetRequiredService<ITransport>(),
            provider.GetService<IReplicaStorage>(),
            provider.GetService<ILoggerFactory>(),
            provider.GetService<TimeProvider>(),
            seed: null,
            provider.GetService<IMeterFactory>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, PaxosNodeHostedService>());
        return services;
    }
}
