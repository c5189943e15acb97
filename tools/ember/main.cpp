// The ember command-line program.
#include <iostream>

#include "engine/ember.h"

int main(int argc, char** argv) {
  std::cout << "ember " << (argc > 1 ? argv[1] : "") << "\n";
  return 0;
}
