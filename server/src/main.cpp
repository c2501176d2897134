#include "hanko/server/cli.h"

int main(int argc, char** argv) { return hanko::server::run_cli(argc, argv); }
