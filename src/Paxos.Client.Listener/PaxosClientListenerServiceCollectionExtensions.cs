using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Paxos;
using Paxos.Client.Listener;

#pragma warning disable IDE0130 // Extension methods for IServiceCollection live in its namespace, by .NET convention.
namespace Microsoft.Extensions.DependencyInjection;
#pragma warning restore IDE0130

/// <summary>Registers a <see cref="PaxosClientListener"/> beside the container's <see cref="PaxosNode"/>.</summary>
public static class PaxosClientListenerServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="PaxosClientListenerOptions"/>, bound from the <see cref="PaxosClientListenerOptions.SectionName"/>
    /// section of the host's <see cref="IConfiguration"/> (when the container has one), then set by
    /// <paramref name="configure"/>, and checked when the host starts; a singleton <see cref="PaxosClientListener"/> over
    /// the registered <see cref="PaxosNode"/>; and the listener as an <see cref="IHostedService"/>. Call it after
    /// <c>AddPaxos</c>: the host starts hosted services in order and stops them in reverse, so the listener starts after
    /// the node and stops before it.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the options after the configuration section did.</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddPaxosClientListener(this IServiceCollection services, Action<PaxosClientListenerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<PaxosClientListenerOptions>()
            .Configure<IServiceProvider>(static (options, provider) =>
                provider.GetService<IConfiguration>()?.GetSection(PaxosClientListenerOptions.SectionName).Bind(options))
            .Configure(configure)
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PaxosClientListenerOptions>, PaxosClientListenerOptionsValidator>());
        services.TryAddSingleton(static provider => new PaxosClientListener(
            provider.GetRequiredService<PaxosNode>(),
            provider.GetRequiredService<IOptions<PaxosClientListenerOptions>>().Value,
            provider.GetService<ILoggerFactory>()));
        services.AddHostedService(static provider => provider.GetRequiredService<PaxosClientListener>());
        return services;
    }
}
