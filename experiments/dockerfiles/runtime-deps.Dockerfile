# runtime-deps: the base with the settings .NET expects in a container. No RUN step, so the
# same template works on bases without a shell (distroless). Bases without ICU get
# globalization-invariant mode, as the official chiseled images do.
FROM {{parent}}
ENV APP_UID=1654 \
    ASPNETCORE_HTTP_PORTS=8080 \
    DOTNET_RUNNING_IN_CONTAINER=true{{globalization}}
