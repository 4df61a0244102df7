// Behavioural models of the Gowin MULT9X9, MULT18X18 and MULT36X36 multipliers, for simulating
// the netlists lowbit synthesizes (lowbit.boards.netlist); Yosys's gowin/cells_sim.v has none
// of them (only the black boxes in cells_xtra_*.v).
//
// Modelled: what Yosys's map (techlibs/gowin/dsp_map.v) instantiates: DOUT = A * B, each
// operand signed when its ASIGN / BSIGN pin is 1, with every register off (AREG, BREG,
// OUT_REG / OUT0_REG / OUT1_REG, PIPE_REG, ASIGN_REG, BSIGN_REG, SOA_REG all 0) and the
// operands taken from A and B (ASEL = BSEL = 0). SOA / SOB (the shift chain) are not driven.
// Not modelled, and refused by lowbit.boards.netlist before a netlist reaches a simulator: any
// register on, ASEL or BSEL not tied to 0.
module MULT9X9(input [8:0] A, SIA, B, SIB, input ASIGN, BSIGN, ASEL, BSEL, CE, CLK, RESET,
               output [17:0] DOUT, output [8:0] SOA, SOB);
  parameter AREG = 1'b0;
  parameter BREG = 1'b0;
  parameter OUT_REG = 1'b0;
  parameter PIPE_REG = 1'b0;
  parameter ASIGN_REG = 1'b0;
  parameter BSIGN_REG = 1'b0;
  parameter SOA_REG = 1'b0;
  parameter MULT_RESET_MODE = "SYNC";
  wire signed [9:0] a = {ASIGN & A[8], A};
  wire signed [9:0] b = {BSIGN & B[8], B};
  wire signed [19:0] p = a * b;
  assign DOUT = p[17:0];
endmodule

module MULT18X18(input [17:0] A, SIA, B, SIB, input ASIGN, BSIGN, ASEL, BSEL, CE, CLK, RESET,
                 output [35:0] DOUT, output [17:0] SOA, SOB);
  parameter AREG = 1'b0;
  parameter BREG = 1'b0;
  parameter OUT_REG = 1'b0;
  parameter PIPE_REG = 1'b0;
  parameter ASIGN_REG = 1'b0;
  parameter BSIGN_REG = 1'b0;
  parameter SOA_REG = 1'b0;
  parameter MULT_RESET_MODE = "SYNC";
  wire signed [18:0] a = {ASIGN & A[17], A};
  wire signed [18:0] b = {BSIGN & B[17], B};
  wire signed [37:0] p = a * b;
  assign DOUT = p[35:0];
endmodule

module MULT36X36(input [35:0] A, B, input ASIGN, BSIGN, CE, CLK, RESET, output [71:0] DOUT);
  parameter AREG = 1'b0;
  parameter BREG = 1'b0;
  parameter OUT0_REG = 1'b0;
  parameter OUT1_REG = 1'b0;
  parameter PIPE_REG = 1'b0;
  parameter ASIGN_REG = 1'b0;
  parameter BSIGN_REG = 1'b0;
  parameter MULT_RESET_MODE = "SYNC";
  wire signed [36:0] a = {ASIGN & A[35], A};
  wire signed [36:0] b = {BSIGN & B[35], B};
  wire signed [73:0] p = a * b;
  assign DOUT = p[71:0];
endmodule
