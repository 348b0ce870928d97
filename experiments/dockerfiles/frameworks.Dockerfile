# A framework layer: shared frameworks under /usr/share/dotnet (and the dotnet host when the
# image stands on runtime-deps), laid out and compiled on the host by r2r.
FROM {{parent}}
ENV DOTNET_VERSION={{version}}
COPY rootfs/ /
